/**
 * The security gate's inventory as a CycloneDX 1.6 JSON SBOM (issue 18, item 1: "a kept library
 * for the format"), built with the OWASP CycloneDX JavaScript library's models and its JSON
 * serializer rather than written by hand, so field names, order and the spec's version-specific
 * shapes (e.g. metadata.tools as an object since 1.5) come from the library that tracks the spec.
 * 1.6 is the version ECMA standardised as ECMA-424 and the newest one the library validates as
 * stable here.
 *
 * Pure and deterministic: the activity that makes it is retried and replayed, so the same report
 * and subject give the same document. The serializer gives a random bom-ref to each component
 * that has none (its BomRefDiscriminator uses Math.random), so every component gets a stable one
 * here; the serialNumber is derived from the build, the timestamp is the orchestration's.
 */
import { createHash } from 'node:crypto';
import { Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';
import { FactoryError } from '../../shared/errors';
import type { GateReport } from './security-gate';

export const SBOM_SPEC_VERSION = '1.6';
/** The media type CycloneDX registers for its JSON format (with the spec version as a parameter). */
export const SBOM_MEDIA_TYPE = 'application/vnd.cyclonedx+json';

export interface SbomSubject {
  buildId: string;
  imageVersion: string;
  pipeline: string;
  /** ISO 8601, from the orchestration's clock (never the activity's: retries must agree). */
  timestamp: string;
}

const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));

/** A name-based (version 5 style) UUID from the build, so a retried activity keeps the serialNumber. */
function serialNumberOf(subject: SbomSubject): string {
  const hex = createHash('sha256').update(`${subject.buildId}/${subject.imageVersion}`).digest('hex');
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A purl component percent-encoded as the purl spec's canonical form has it (package-url/purl-spec,
 * "Character encoding"): every octet of the UTF-8 string except A-Z a-z 0-9 . - _ ~ becomes %XX, and
 * the colon is never encoded. So a Debian epoch stays "1:2.4" and "+b1" becomes "%2Bb1", as in the
 * spec's deb examples. (The CycloneDX library takes the purl as a string; its PackageURL support
 * needs the optional packageurl-js peer, which this project does not install.)
 */
function purlEncode(component: string): string {
  return Array.from(Buffer.from(component, 'utf8'), (octet) => {
    const c = String.fromCharCode(octet);
    return /[A-Za-z0-9._~:-]/.test(c) ? c : `%${octet.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

/**
 * The purl of a dpkg package (purl-spec type deb: "pkg:deb/<vendor>/<name>@<version>", the vendor
 * required and lowercased, the name lowercased; qualifiers `arch` (the package's architecture) and
 * `distro` optional, in key order as the canonical form sorts them). Without a vendor (a report from a gate script before it
 * read os-release) the purl stays "pkg:deb/<name>@<version>" as before: a vendor cannot be guessed,
 * and a scanner can still show the name and version.
 */
function debPurl(report: GateReport, name: string, version: string, packageArch?: string): string {
  const base = `${purlEncode(name.toLowerCase())}@${purlEncode(version)}`;
  if (report.vendor === undefined) return `pkg:deb/${base}`;
  const qualifiers = [
    // The package's own architecture ("all", a foreign one) when the VM gave it, else the native one.
    ['arch', packageArch ?? report.arch],
    ['distro', report.codename],
  ]
    .filter((q): q is [string, string] => q[1] !== undefined)
    .map(([key, value]) => `${key}=${purlEncode(value)}`);
  return `pkg:deb/${purlEncode(report.vendor)}/${base}${qualifiers.length > 0 ? `?${qualifiers.join('&')}` : ''}`;
}

/**
 * The BOM: the image (pipeline name, image version) is the metadata component and depends on every
 * package; each package is a component, with a purl for dpkg packages (debPurl; there is no purl
 * type for Windows uninstall-registry entries, so those have none). The truncation flag and the
 * complete package count are properties, since the list may be cut to Run Command's output tail.
 */
export function cycloneDx(report: GateReport, subject: SbomSubject): Record<string, unknown> {
  const timestamp = new Date(subject.timestamp);
  if (Number.isNaN(timestamp.getTime()))
    throw new FactoryError('InvalidSbomInput', `the SBOM timestamp '${subject.timestamp}' is not a date`);

  const bom = new Models.Bom({ version: 1, serialNumber: serialNumberOf(subject) });
  bom.metadata.timestamp = timestamp;
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, 'image-factory security gate'),
  );
  const image = new Models.Component(Enums.ComponentType.OperatingSystem, subject.pipeline, {
    version: subject.imageVersion,
    bomRef: 'image',
  });
  bom.metadata.component = image;
  for (const [name, value] of [
    ['imagefactory:buildId', subject.buildId],
    ['imagefactory:packageCount', String(report.packageCount)],
    ['imagefactory:inventoryTruncated', String(report.truncated)],
  ] as const)
    bom.metadata.properties.add(new Models.Property(name, value));

  report.packages.forEach(([name, version, packageArch], index) => {
    const component = new Models.Component(Enums.ComponentType.Application, name, {
      // By position: names repeat (multi-arch dpkg entries, 32- and 64-bit registry keys).
      bomRef: `package-${index + 1}`,
      ...(version ? { version } : {}),
      ...(report.os === 'Linux' && version ? { purl: debPurl(report, name, version, packageArch) } : {}),
    });
    bom.components.add(component);
    // The serializer matches dependencies to components by the BomRef object, not its value.
    image.dependencies.add(component.bomRef);
  });

  // sortLists off: the inventory stays in the order the VM reported it.
  return JSON.parse(serializer.serialize(bom, { sortLists: false })) as Record<string, unknown>;
}
