/**
 * What a simulated test VM answers to Image Factory's security gate script (recognised by its first
 * line, src/domain/pipeline/security-gate.ts): the VM runs nothing, so the world says what is
 * pending and installed (`Simulator.securityFindings`, settable per test) and this prints the one
 * JSON line the script would print there. Modelled on what the script reads on a real VM: apt's
 * `-security` pocket (no severity: `unspecified`) on Linux, the Windows Update Agent's pending
 * updates with their MsrcSeverity on Windows; on Linux also the vendor, codename and architecture
 * (an Ubuntu 22.04 image unless a test says otherwise); the report is cut to the script's byte budget the
 * way the script cuts it (inventory first, `truncated: true`). See FIDELITY.md.
 */

export const GATE_HEADER = /^# image-factory: security gate v1\b/;
const GATE_BUDGET = 3800;

export interface SecurityFindings {
  /** Pending security updates: id (package or KB) and MSRC severity (Linux: always unspecified). */
  pending: { id: string; severity: 'critical' | 'important' | 'moderate' | 'low' | 'unspecified' }[];
  /**
   * Installed software: name and version, and on Linux the package's architecture when it is not
   * the native one (as the script reports "all" and foreign-architecture packages).
   */
  packages: ([string, string] | [string, string, string])[];
  /**
   * Linux only: what the script reads from os-release (`ID`, `VERSION_CODENAME`) and
   * `dpkg --print-architecture`; default: an Ubuntu 22.04 image. `null`: a report without them
   * (the gate script before it read os-release).
   */
  distro?: { vendor: string; codename: string; arch: string } | null;
}

/**
 * The Ubuntu pipeline's source (Canonical 0001-com-ubuntu-server-jammy, sku 22_04-lts-gen2, an x64
 * image; its VM size Standard_D2s_v5 is x64): Ubuntu 22.04's /etc/os-release has ID=ubuntu and
 * VERSION_CODENAME=jammy, and dpkg's architecture on x64 is amd64.
 */
export const UBUNTU_2204 = { vendor: 'ubuntu', codename: 'jammy', arch: 'amd64' } as const;

/** A freshly built, fully updated image: nothing pending, a small plausible inventory. */
export function defaultFindings(shell: 'Shell' | 'PowerShell'): SecurityFindings {
  return shell === 'Shell'
    ? {
        pending: [],
        packages: [
          ['base-files', '12ubuntu4.7'],
          ['bash', '5.1-6ubuntu1.1'],
          ['coreutils', '8.32-4.1ubuntu1.2'],
          ['libc6', '2.35-0ubuntu3.8'],
          ['libssl3', '3.0.2-0ubuntu1.18'],
          ['openssh-server', '1:8.9p1-3ubuntu0.10'],
          ['openssl', '3.0.2-0ubuntu1.18'],
          ['walinuxagent', '2.2.46-0ubuntu5.1'],
        ],
      }
    : {
        pending: [],
        packages: [
          ['Microsoft Edge', '131.0.2903.86'],
          ['Microsoft Visual C++ 2022 X64 Minimum Runtime - 14.40.33810', '14.40.33810'],
          ['Windows Azure VM Agent - 2.7.41491.1102', '2.7.41491.1102'],
        ],
      };
}

export function gateReport(shell: 'Shell' | 'PowerShell', findings: SecurityFindings): string {
  const counts = { critical: 0, important: 0, moderate: 0, low: 0, unspecified: 0 };
  for (const p of findings.pending) counts[shell === 'Shell' ? 'unspecified' : p.severity] += 1;
  const distro = shell === 'Shell' ? (findings.distro === undefined ? UBUNTU_2204 : findings.distro) : null;
  const report = {
    v: 1,
    os: shell === 'Shell' ? 'Linux' : 'Windows',
    // Where the script puts them: after "os", only when known.
    ...(distro ?? {}),
    counts: shell === 'Shell' ? { unspecified: counts.unspecified } : counts,
    packageCount: findings.packages.length,
    updates: findings.pending.map((p) => [p.id, shell === 'Shell' ? 'unspecified' : p.severity]),
    packages: [...findings.packages],
    truncated: false,
  };
  let json = JSON.stringify(report);
  while (Buffer.byteLength(json) > GATE_BUDGET && (report.packages.length > 0 || report.updates.length > 0)) {
    if (report.packages.length > 0) report.packages.pop();
    else report.updates.pop();
    report.truncated = true;
    json = JSON.stringify(report);
  }
  return json;
}
