/**
 * The security gate (issue 18, item 1): one more managed Run Command on the test VM after the
 * functional tests. It reports pending security updates and a software inventory as one line of
 * JSON; the factory reads it, keeps the inventory as a CycloneDX SBOM (sbom.ts) and fails the build above
 * the pipeline's thresholds (`test.securityGate`).
 *
 * Bounded output: Run Command returns only the last 4,096 bytes of a script's output (the limit
 * the simulator models for action and managed Run Command, FIDELITY.md, and the exit-code wrapper
 * relies on, adapters/runCommandScript.ts; learn.microsoft.com "Run scripts in your VM by using
 * action Run Command", Restrictions). So the script caps its JSON at GATE_OUTPUT_LIMIT bytes (room
 * left for the wrapper's marker; run on a Debian 12 machine: 825 packages → 3,773 bytes, 88 listed,
 * 22 of them with their own architecture "all") and says when it dropped inventory entries
 * (`truncated`): counts are always complete, names may not be.
 *
 * Severities: Windows Update gives each update an MsrcSeverity (Critical, Important, Moderate, Low,
 * or none); apt's security pocket carries none, so on Linux every pending `-security` update counts
 * as `unspecified` and only `maxTotal` limits it. Pure: used by activities and orchestrations.
 */
import { z } from 'zod';

/** Bytes the gate's JSON may take: under Run Command's 4,096-byte output tail, with the marker. */
export const GATE_OUTPUT_LIMIT = 3800;
/** First line of the gate script: the simulator recognises the gate by it. */
export const GATE_SCRIPT_HEADER = '# image-factory: security gate v1';
export const GATE_RUN_COMMAND_NAME = 'imagefactory-security-gate';

export const SEVERITIES = ['critical', 'important', 'moderate', 'low', 'unspecified'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type SeverityCounts = Record<Severity, number>;

export interface SecurityGateThresholds {
  maxCritical: number;
  maxImportant: number;
  maxTotal: number;
}

/**
 * Linux: apt's security pockets (simulated upgrade) and dpkg's package list, plus what a purl of type
 * deb needs besides name and version (sbom.ts): the vendor and release codename from os-release
 * (`ID`, `VERSION_CODENAME`; /etc/os-release, else /usr/lib/os-release, as the os-release spec
 * orders them) and dpkg's native architecture; a package whose own architecture differs ("all", or
 * a foreign one such as i386 on a multiarch system) carries it as a third element. The awk passes each of those only when it has the
 * os-release spec's character set (0-9, a-z, '.', '_', '-'; dpkg architecture names fit it), so the
 * unescaped JSON stays valid, and puts them in the head so the byte budget counts them.
 */
const SHELL_GATE = `${GATE_SCRIPT_HEADER}
# Debian package names and versions hold no quote or backslash (Debian Policy 5.6.1, 5.6.12),
# so they go into the JSON unescaped.
# Pending updates from a -security pocket: "Inst <pkg> [<old>] (<new> <origin>-security ...)".
{ apt-get -s upgrade 2>/dev/null | awk '/^Inst / && /-security/ { print "S\\t" $2 }'
  ( if [ -r /etc/os-release ]; then . /etc/os-release; else . /usr/lib/os-release; fi
    printf 'O\\t%s\\t%s\\n' "$ID" "$VERSION_CODENAME" ) 2>/dev/null
  printf 'A\\t%s\\n' "$(dpkg --print-architecture 2>/dev/null)"
  dpkg-query -W -f='P\\t\${Package}\\t\${Version}\\t\${Architecture}\\n' 2>/dev/null; } |
awk -F'\\t' -v max=${GATE_OUTPUT_LIMIT} '
function ok(x) { return length(x) <= 32 && x ~ /^[a-z0-9._-]+$/ }
function field(k, x) { return ok(x) ? ",\\"" k "\\":\\"" x "\\"" : "" }
$1 == "S" { n++; s[n] = $2 }
$1 == "P" { m++; pn[m] = $2; pv[m] = $3; pa[m] = $4 }
$1 == "O" { vendor = $2; codename = $3 }
$1 == "A" { arch = $2 }
END {
  head = "{\\"v\\":1,\\"os\\":\\"Linux\\"" field("vendor", vendor) field("codename", codename) field("arch", arch) ",\\"counts\\":{\\"unspecified\\":" n+0 "},\\"packageCount\\":" m+0
  upd = ""; for (i = 1; i <= n; i++) { e = "[\\"" s[i] "\\",\\"unspecified\\"]"; if (length(head upd pk) + length(e) > max / 4) { t = 1; break } upd = upd (upd == "" ? "" : ",") e }
  pk = ""; for (i = 1; i <= m; i++) { e = "[\\"" pn[i] "\\",\\"" pv[i] "\\"" (pa[i] != arch && ok(pa[i]) ? ",\\"" pa[i] "\\"" : "") "]"; if (length(head upd pk) + length(e) + 60 > max) { t = 1; break } pk = pk (pk == "" ? "" : ",") e }
  print head ",\\"updates\\":[" upd "],\\"packages\\":[" pk "],\\"truncated\\":" (t ? "true" : "false") "}"
}'
`;

/** Windows: the Windows Update Agent's pending updates (MsrcSeverity) and the uninstall registry keys. */
const POWERSHELL_GATE = `${GATE_SCRIPT_HEADER}
$ErrorActionPreference = 'Stop'
$max = ${GATE_OUTPUT_LIMIT}
$found = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher().Search("IsInstalled=0 and Type='Software'")
$counts = [ordered]@{ critical = 0; important = 0; moderate = 0; low = 0; unspecified = 0 }
$updates = @()
foreach ($u in $found.Updates) {
  $sev = if ($u.MsrcSeverity) { ([string]$u.MsrcSeverity).ToLowerInvariant() } else { 'unspecified' }
  if (-not $counts.Contains($sev)) { $sev = 'unspecified' }
  $counts[$sev]++
  $kb = if ($u.KBArticleIDs.Count -gt 0) { 'KB' + $u.KBArticleIDs.Item(0) } else { [string]$u.Title }
  $updates += ,@($kb, $sev)
}
$keys = 'HKLM:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*', 'HKLM:\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*'
$packages = @(Get-ItemProperty $keys -ErrorAction SilentlyContinue | Where-Object { $_.DisplayName } | ForEach-Object { ,@([string]$_.DisplayName, [string]$_.DisplayVersion) })
$out = [ordered]@{ v = 1; os = 'Windows'; counts = $counts; packageCount = $packages.Count; updates = $updates; packages = $packages; truncated = $false }
$json = $out | ConvertTo-Json -Compress -Depth 4
while ($json.Length -gt $max -and ($out.packages.Count -gt 0 -or $out.updates.Count -gt 0)) {
  if ($out.packages.Count -gt 0) { $out.packages = @($out.packages | Select-Object -First ([int]($out.packages.Count * 0.8))) } else { $out.updates = @($out.updates | Select-Object -First ([int]($out.updates.Count / 2))) }
  $out.truncated = $true
  $json = $out | ConvertTo-Json -Compress -Depth 4
}
Write-Output $json
`;

export function securityGateScript(shell: 'Shell' | 'PowerShell'): {
  name: string;
  shell: 'Shell' | 'PowerShell';
  inline: string;
} {
  return { name: 'security-gate', shell, inline: shell === 'Shell' ? SHELL_GATE : POWERSHELL_GATE };
}

const pair = z.tuple([z.string(), z.string()]);
/**
 * os-release's `ID` and `VERSION_CODENAME` ("no spaces or other characters outside of 0–9, a–z, '.',
 * '_' and '-'", freedesktop.org os-release) and a dpkg architecture name ("amd64", "arm64") become a
 * purl's namespace and qualifiers: anything else is not what the script prints, so it is refused.
 * Optional: reports from before these fields, and Windows, have none.
 */
const osToken = (field: string) =>
  z
    .string()
    .regex(/^[a-z0-9._-]{1,32}$/, `${field} must be 1 to 32 characters of a-z, 0-9, '.', '_', '-'`)
    .optional();
/** Name, version and, on Linux, the package's architecture when it is not the native one. */
const inventoryEntry = z.tuple([z.string(), z.string(), osToken('a package architecture')]);
const reportSchema = z.object({
  v: z.literal(1),
  os: z.enum(['Linux', 'Windows']),
  /** os-release `ID`: the purl deb namespace ("debian", "ubuntu"). */
  vendor: osToken('vendor'),
  /** os-release `VERSION_CODENAME` ("jammy"): the purl `distro` qualifier. */
  codename: osToken('codename'),
  /** `dpkg --print-architecture` ("amd64"): the purl `arch` qualifier. */
  arch: osToken('arch'),
  counts: z.object(Object.fromEntries(SEVERITIES.map((s) => [s, z.number().int().min(0).optional()]))),
  packageCount: z.number().int().min(0),
  updates: z.array(pair),
  packages: z.array(inventoryEntry),
  truncated: z.boolean(),
});
export type GateReport = z.infer<typeof reportSchema>;

/** The gate's JSON line from the script's stdout, or why it cannot be read. */
export function parseGateOutput(stdout: string): GateReport | { error: string } {
  const line = stdout
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (line === undefined) return { error: 'the security gate printed no JSON report' };
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return { error: 'the security gate report is not valid JSON (cut by the 4,096-byte output tail?)' };
  }
  const parsed = reportSchema.safeParse(raw);
  if (!parsed.success)
    return {
      error: `the security gate report has an unexpected shape: ${parsed.error.issues[0]?.message ?? ''}`,
    };
  return parsed.data;
}

export function countsOf(report: GateReport): SeverityCounts {
  return Object.fromEntries(SEVERITIES.map((s) => [s, report.counts[s] ?? 0])) as SeverityCounts;
}

/** What the build keeps and shows (status, approval request): small, no inventory. */
export interface SecuritySummary {
  os: 'Linux' | 'Windows';
  pending: SeverityCounts & { total: number };
  packages: number;
  /** Some inventory entries did not fit in Run Command's output; the SBOM lists the rest. */
  inventoryTruncated: boolean;
  thresholds: SecurityGateThresholds;
  passed: boolean;
  /** Which thresholds were exceeded, e.g. "critical 2 > 0". */
  exceeded: string[];
}

export function evaluateGate(report: GateReport, thresholds: SecurityGateThresholds): SecuritySummary {
  const counts = countsOf(report);
  const total = SEVERITIES.reduce((sum, s) => sum + counts[s], 0);
  const exceeded = [
    counts.critical > thresholds.maxCritical ? `critical ${counts.critical} > ${thresholds.maxCritical}` : '',
    counts.important > thresholds.maxImportant
      ? `important ${counts.important} > ${thresholds.maxImportant}`
      : '',
    total > thresholds.maxTotal ? `total ${total} > ${thresholds.maxTotal}` : '',
  ].filter(Boolean);
  return {
    os: report.os,
    pending: { ...counts, total },
    packages: report.packageCount,
    inventoryTruncated: report.truncated,
    thresholds,
    passed: exceeded.length === 0,
    exceeded,
  };
}
