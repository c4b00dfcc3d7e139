/**
 * The full software inventory, read from Image Builder's customization.log (issue 18, item 1).
 *
 * Why: the security gate's Run Command output is cut by Azure to its last 4,096 bytes
 * (security-gate.ts), so its inventory is truncated on any real image (Debian 12: 88 of 825
 * packages). Image Builder keeps every line a customizer prints: "Packer outputs all log entries to
 * a file called customization.log" in the `packerlogs` container of the staging group's storage
 * account (MicrosoftDocs/azure-docs, articles/virtual-desktop/troubleshoot-custom-image-templates.md),
 * which the factory already reads (adapters/customizationLog.ts). So a gated pipeline's template gets
 * one last inline customizer that prints the inventory, and the build reads it before the template
 * (and its staging group with the log) is deleted.
 *
 * Line prefixes: Packer's UI prefixes every provisioner output line with the builder name
 * ("    azure-arm: …", Packer's "machine-readable"/basic UI), and Image Builder adds its own stream tag
 * and timestamp in customization.log ("PACKER OUT …", "PACKER ERR …"; the troubleshooting guide's log
 * excerpts). Neither shape is a contract, so each record carries its own tag (`ifinv:`) and
 * everything before the tag on a line is ignored; records are numbered and the end line carries
 * the count, so a duplicated, cut or interleaved log is either repaired (duplicates by number) or
 * refused (a count mismatch): then the gate's truncated list stays the SBOM. Pure.
 */
import type { Customizer } from '../../ports/azure';
import type { GateReport } from './security-gate';

export const INVENTORY_CUSTOMIZER_NAME = 'image-factory-inventory';
/** First line of the customizer's script: the simulator recognises it by it. */
export const INVENTORY_SCRIPT_HEADER = '# image-factory: inventory v1';
const TAG = 'ifinv:';

/**
 * Linux: os-release (`ID`, `VERSION_CODENAME`; /etc/os-release, else /usr/lib/os-release, as the
 * os-release spec orders them), dpkg's native architecture, then dpkg-query's packages, numbered.
 */
const SHELL_LINES = [
  INVENTORY_SCRIPT_HEADER,
  `echo '${TAG}begin'`,
  `( if [ -r /etc/os-release ]; then . /etc/os-release; else . /usr/lib/os-release; fi; printf '${TAG}O\\t%s\\t%s\\t%s\\n' "$ID" "$VERSION_CODENAME" "$(dpkg --print-architecture 2>/dev/null)" ) 2>/dev/null`,
  `dpkg-query -W -f='\${Package}\\t\${Version}\\t\${Architecture}\\n' 2>/dev/null | awk -F'\\t' '{ printf "${TAG}P\\t%d\\t%s\\t%s\\t%s\\n", NR, $1, $2, $3; n = NR } END { printf "${TAG}end\\t%d\\n", n + 0 }'`,
];

/** Windows: the uninstall registry keys (64- and 32-bit), as the gate reads them; tabs flattened. */
const POWERSHELL_LINES = [
  INVENTORY_SCRIPT_HEADER,
  `Write-Output '${TAG}begin'`,
  `$keys = 'HKLM:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*', 'HKLM:\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*'`,
  `$i = 0`,
  `Get-ItemProperty $keys -ErrorAction SilentlyContinue | Where-Object { $_.DisplayName } | ForEach-Object { $i++; Write-Output ("${TAG}P\`t{0}\`t{1}\`t{2}" -f $i, ([string]$_.DisplayName -replace '\\s', ' '), ([string]$_.DisplayVersion -replace '\\s', ' ')) }`,
  `Write-Output ("${TAG}end\`t{0}" -f $i)`,
];

export function inventoryCustomizer(osType: 'Linux' | 'Windows'): Customizer {
  return osType === 'Windows'
    ? { type: 'PowerShell', name: INVENTORY_CUSTOMIZER_NAME, inline: [...POWERSHELL_LINES] }
    : { type: 'Shell', name: INVENTORY_CUSTOMIZER_NAME, inline: [...SHELL_LINES] };
}

/** os-release and dpkg tokens as the gate accepts them (security-gate.ts, osToken). */
const token = (value: string | undefined): string | undefined =>
  value !== undefined && /^[a-z0-9._-]{1,32}$/.test(value) ? value : undefined;

/**
 * The inventory the customizer printed, as a complete (untruncated) gate-shaped report for
 * cycloneDx, or why it cannot be read. The last begin…end block wins (a retried customizer).
 */
export function parseInventoryLog(log: string, osType: 'Linux' | 'Windows'): GateReport | { error: string } {
  const records = log
    .split(/\r?\n/)
    .map((line) => {
      const at = line.indexOf(TAG);
      return at < 0 ? undefined : line.slice(at + TAG.length).replace(/\s+$/, '');
    })
    .filter((r): r is string => r !== undefined);
  const begin = records.lastIndexOf('begin');
  if (begin < 0) return { error: 'customization.log holds no inventory' };
  const block = records.slice(begin + 1);
  const endAt = block.findIndex((r) => r.startsWith('end\t'));
  if (endAt < 0) return { error: 'the inventory in customization.log has no end line (cut?)' };
  const expected = Number(block[endAt]?.split('\t')[1]);
  const byNumber = new Map<number, [string, string, string | undefined]>();
  let os: { vendor?: string; codename?: string; arch?: string } = {};
  for (const record of block.slice(0, endAt)) {
    const fields = record.split('\t');
    if (fields[0] === 'O') {
      os = { vendor: token(fields[1]), codename: token(fields[2]), arch: token(fields[3]) };
    } else if (fields[0] === 'P') {
      const n = Number(fields[1]);
      const name = fields[2];
      if (!Number.isInteger(n) || n < 1 || name === undefined || name === '')
        return {
          error: `the inventory in customization.log has a malformed entry: '${record.slice(0, 80)}'`,
        };
      byNumber.set(n, [name, fields[3] ?? '', fields[4]]);
    }
  }
  if (!Number.isInteger(expected) || expected !== byNumber.size)
    return {
      error: `the inventory in customization.log lists ${byNumber.size} packages but its end line says ${String(block[endAt]?.split('\t')[1])}`,
    };
  const packages = [...byNumber.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, [name, version, arch]]): [string, string, string?] => {
      // As the gate: a package's own architecture only when it is not the native one.
      const own = osType === 'Linux' ? token(arch) : undefined;
      return own !== undefined && own !== os.arch ? [name, version, own] : [name, version];
    });
  return {
    v: 1,
    os: osType,
    ...(osType === 'Linux' ? os : {}),
    counts: {},
    packageCount: packages.length,
    updates: [],
    packages,
    truncated: false,
  };
}
