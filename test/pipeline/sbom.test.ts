/**
 * The SBOM (pure): the security gate's report, read the way the activity reads it, made into a
 * CycloneDX document by the CycloneDX library and checked against the official JSON schema that
 * the library ships; the same input gives the same document (the activity is retried).
 */
import { cycloneDx } from '../../src/domain/pipeline/sbom';
import { parseGateOutput, type GateReport } from '../../src/domain/pipeline/security-gate';
import { gateReport } from '../../src/local/azure-sim/providers/security-gate-vm';
import { cycloneDxSchemaErrors } from './cyclonedx-schema';

const subject = {
  buildId: 'b-0001',
  imageVersion: '1.4.20261206',
  pipeline: 'ubuntu-2204-base',
  timestamp: '2026-12-06T19:58:00.000Z',
};

const reportOf = (shell: 'Shell' | 'PowerShell', packages: [string, string][]): GateReport =>
  parseGateOutput(`${gateReport(shell, { pending: [], packages })}\n`) as GateReport;

describe('SBOM (CycloneDX, made by the CycloneDX library)', () => {
  it('a Linux inventory: image as metadata component, packages with deb purls, valid against the schema', async () => {
    const bom = cycloneDx(
      reportOf('Shell', [
        ['bash', '5.1-6ubuntu1.1'],
        ['openssh-server', '1:8.9p1-3ubuntu0.10'],
      ]),
      subject,
    );
    expect(bom).toEqual({
      $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      version: 1,
      serialNumber: expect.stringMatching(
        /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
      metadata: {
        timestamp: '2026-12-06T19:58:00.000Z',
        tools: { components: [{ type: 'application', name: 'image-factory security gate' }] },
        component: {
          type: 'operating-system',
          name: 'ubuntu-2204-base',
          version: '1.4.20261206',
          'bom-ref': 'image',
        },
        properties: [
          { name: 'imagefactory:buildId', value: 'b-0001' },
          { name: 'imagefactory:packageCount', value: '2' },
          { name: 'imagefactory:inventoryTruncated', value: 'false' },
        ],
      },
      components: [
        {
          type: 'application',
          name: 'bash',
          version: '5.1-6ubuntu1.1',
          'bom-ref': 'package-1',
          // purl-spec type deb: vendor namespace, arch and distro qualifiers (key order).
          purl: 'pkg:deb/ubuntu/bash@5.1-6ubuntu1.1?arch=amd64&distro=jammy',
        },
        {
          type: 'application',
          name: 'openssh-server',
          version: '1:8.9p1-3ubuntu0.10',
          'bom-ref': 'package-2',
          // The epoch's colon is never percent-encoded in a canonical purl.
          purl: 'pkg:deb/ubuntu/openssh-server@1:8.9p1-3ubuntu0.10?arch=amd64&distro=jammy',
        },
      ],
      dependencies: [
        { ref: 'image', dependsOn: ['package-1', 'package-2'] },
        { ref: 'package-1' },
        { ref: 'package-2' },
      ],
    });
    expect(await cycloneDxSchemaErrors(bom)).toBeNull();
  });

  it('purls as the purl spec writes them: its own deb example, a vendor without qualifiers, no vendor', async () => {
    const purlsOf = (report: GateReport) =>
      (cycloneDx(report, subject).components as { purl?: string }[]).map((c) => c.purl);
    // purl-spec types/deb-definition.json: pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64 ('+' encoded).
    const debian = parseGateOutput(
      '{"v":1,"os":"Linux","vendor":"debian","arch":"amd64","counts":{"unspecified":0},"packageCount":2,' +
        '"updates":[],"packages":[["attr","1:2.4.47-2+b1"],["libstdc++6","12.2.0-14"]],"truncated":false}',
    ) as GateReport;
    expect(purlsOf(debian)).toEqual([
      'pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64',
      'pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64',
    ]);
    expect(await cycloneDxSchemaErrors(cycloneDx(debian, subject))).toBeNull();
    // A package's own architecture ("all", a foreign one) wins over the native one.
    const ubuntu = parseGateOutput(
      gateReport('Shell', {
        pending: [],
        packages: [
          ['tzdata', '2024a-0ubuntu0.22.04', 'all'],
          ['libc6', '2.35-0ubuntu3.8'],
          ['libc6', '2.35-0ubuntu3.8', 'i386'],
        ],
      }),
    ) as GateReport;
    expect(purlsOf(ubuntu)).toEqual([
      'pkg:deb/ubuntu/tzdata@2024a-0ubuntu0.22.04?arch=all&distro=jammy',
      'pkg:deb/ubuntu/libc6@2.35-0ubuntu3.8?arch=amd64&distro=jammy',
      'pkg:deb/ubuntu/libc6@2.35-0ubuntu3.8?arch=i386&distro=jammy',
    ]);
    expect(await cycloneDxSchemaErrors(cycloneDx(ubuntu, subject))).toBeNull();
    // A vendor alone: no qualifiers, no '?'.
    expect(purlsOf({ ...debian, arch: undefined })).toEqual([
      'pkg:deb/debian/attr@1:2.4.47-2%2Bb1',
      'pkg:deb/debian/libstdc%2B%2B6@12.2.0-14',
    ]);
    // A report from the gate script before it read os-release: no vendor to name, the purl as before.
    const older = parseGateOutput(
      `${gateReport('Shell', { pending: [], packages: [['bash', '5.1-6ubuntu1.1']], distro: null })}\n`,
    ) as GateReport;
    expect(older.vendor).toBeUndefined();
    expect(purlsOf(older)).toEqual(['pkg:deb/bash@5.1-6ubuntu1.1']);
  });

  it('the same report and build give the same document (the activity is retried and replayed)', () => {
    const report = reportOf('Shell', [
      ['bash', '5.1'],
      ['bash', '5.1'],
      ['zlib1g', '1:1.2.11'],
    ]);
    const first = JSON.stringify(cycloneDx(report, subject));
    expect(JSON.stringify(cycloneDx(report, subject))).toBe(first);
    // serialNumber is per build and image version: another version is another BOM.
    expect(cycloneDx(report, { ...subject, imageVersion: '1.4.20261207' }).serialNumber).not.toBe(
      cycloneDx(report, subject).serialNumber,
    );
  });

  it('Windows: no purl (no purl type for uninstall-registry entries), repeated names get distinct bom-refs', async () => {
    const bom = cycloneDx(
      reportOf('PowerShell', [
        ['Microsoft Visual C++ 2015-2022 Redistributable', '14.40.33810.0'],
        ['Microsoft Visual C++ 2015-2022 Redistributable', '14.40.33810.0'],
        ['Some Tool', ''],
      ]),
      { ...subject, pipeline: 'windows-2022-base' },
    );
    expect(bom.components).toEqual([
      {
        type: 'application',
        name: 'Microsoft Visual C++ 2015-2022 Redistributable',
        version: '14.40.33810.0',
        'bom-ref': 'package-1',
      },
      {
        type: 'application',
        name: 'Microsoft Visual C++ 2015-2022 Redistributable',
        version: '14.40.33810.0',
        'bom-ref': 'package-2',
      },
      { type: 'application', name: 'Some Tool', 'bom-ref': 'package-3' },
    ]);
    expect(await cycloneDxSchemaErrors(bom)).toBeNull();
  });

  it('a cut inventory says so and keeps the complete count; still valid', async () => {
    const packages = Array.from({ length: 900 }, (_, i): [string, string] => [
      `lib-package-${i}`,
      `1.${i}-1`,
    ]);
    const report = reportOf('Shell', packages);
    expect(report.truncated).toBe(true);
    const bom = cycloneDx(report, subject);
    expect((bom.metadata as { properties: unknown }).properties).toEqual([
      { name: 'imagefactory:buildId', value: 'b-0001' },
      { name: 'imagefactory:packageCount', value: '900' },
      { name: 'imagefactory:inventoryTruncated', value: 'true' },
    ]);
    expect((bom.components as unknown[]).length).toBe(report.packages.length);
    expect(await cycloneDxSchemaErrors(bom)).toBeNull();
  });

  it('the schema check refuses a broken SBOM: a component without a name, an unknown component type', async () => {
    const bom = cycloneDx(reportOf('Shell', [['bash', '5.1']]), subject);
    const components = bom.components as Record<string, unknown>[];
    const { name: _name, ...nameless } = components[0]!;
    expect(await cycloneDxSchemaErrors({ ...bom, components: [nameless] })).not.toBeNull();
    expect(
      await cycloneDxSchemaErrors({ ...bom, components: [{ ...components[0], type: 'deb' }] }),
    ).not.toBeNull();
    expect(await cycloneDxSchemaErrors(bom)).toBeNull();
  });

  it('a timestamp that is not a date is refused with the reason', () => {
    expect(() => cycloneDx(reportOf('Shell', []), { ...subject, timestamp: 'yesterday' })).toThrow(
      expect.objectContaining({
        code: 'InvalidSbomInput',
        message: "the SBOM timestamp 'yesterday' is not a date",
      }),
    );
  });
});
