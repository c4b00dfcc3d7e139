#!/usr/bin/env bash
# Registers the resource providers of infra/providers.json in a subscription and waits until each is
# Registered. Azure registers only a few providers by default, and the factory's SDK calls (Image
# Builder, galleries, VMs…) do not register them: an unregistered one answers 409
# MissingSubscriptionRegistration. Registering is idempotent, so this runs before every provision.
#
#   infra/scripts/register-providers.sh eng   [subscription-id]  # factory subscription (azd preprovision hook)
#   infra/scripts/register-providers.sh stage <subscription-id>  # each TEST/PROD subscription (onboarding)
#
# Needs `<namespace>/register/action` on the subscription (Owner and Contributor have it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kind="${1:-eng}"
case "$kind" in
  eng | stage) ;;
  *)
    echo "usage: $0 eng|stage [subscription-id]" >&2
    exit 2
    ;;
esac
subscription="${2:-${AZURE_SUBSCRIPTION_ID:-}}"
if [ -z "$subscription" ]; then subscription="$(az account show --query id -o tsv)"; fi
# node is there wherever azd packages this TypeScript app; it reads the one list the tests read too.
namespaces="$(node -e '
  const list = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).providers;
  for (const p of list) if (p[process.argv[2]] === true) console.log(p.namespace);
' "$here/../providers.json" "$kind")"
for namespace in $namespaces; do
  echo "registering $namespace in subscription $subscription"
  az provider register --namespace "$namespace" --subscription "$subscription" --wait
done
echo "resource providers registered in subscription $subscription"
