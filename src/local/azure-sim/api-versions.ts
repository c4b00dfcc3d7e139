/**
 * The api-versions ARM accepts per resource type, in the order InvalidApiVersionParameter lists
 * them, with the source of each list. The router (router.ts) checks every ARM call against it.
 */

// ARM accepts every published api-version of a resource type, so the simulator does too (issue 13
// item 8: it used to accept one per type). The versions the installed SDKs pin come first (the
// InvalidApiVersionParameter text lists them in this order). Sources:
// - Image Builder: every stable version in azure-rest-api-specs `specification/imagebuilder/…/stable/*`.
// - Compute: the `input-file` lists of every package tag in azure-rest-api-specs
//   `specification/compute/resource-manager/Microsoft.Compute/Compute/readme.md` (ComputeRP for
//   virtualMachines/images/locations and DiskRP for disks from 2020 on; GalleryRP for galleries, all
//   of them: 2018-06-01 to 2025-03-03, also the GalleryRP/stable/* folders), plus
//   the newer versions @azure/arm-compute 24/25 pin (2025-12-03, 2026-03-01, 2026-04-01, 2026-03-02).
// - Network: @azure/arm-network 39 and 36 (2026-01-01, 2025-05-01) and the stable versions the
//   network readme's package tags name (2021-05-01, 2021-08-01, 2022-01-01) or its examples
//   (stable/2024-05-01/examples/NetworkInterfaceCreate.json); the others are not listed here yet
//   (FIDELITY.md, knowingly different).
// - Resources: the resources readme's package tags (resources.json, subscriptions.json) from 2019-08 on.
// - Authorization, managed identity, storage: the SDK-pinned versions only (FIDELITY.md).
const COMPUTE_RP_VERSIONS = [
  '2026-04-01',
  '2026-03-01',
  '2025-04-01',
  '2024-11-01',
  '2024-07-01',
  '2024-03-01',
  '2023-09-01',
  '2023-07-01',
  '2023-03-01',
  '2022-11-01',
  '2022-08-01',
  '2022-03-01',
  '2021-11-01',
  '2021-07-01',
  '2021-04-01',
  '2021-03-01',
  '2020-12-01',
  '2020-06-01',
];
export const API_VERSIONS: Record<string, string[]> = {
  'microsoft.virtualmachineimages': [
    '2025-10-01',
    '2024-02-01',
    '2023-07-01',
    '2022-07-01',
    '2022-02-14',
    '2021-10-01',
    '2020-02-14',
  ],
  'microsoft.compute/galleries': [
    '2025-12-03',
    '2025-03-03',
    '2024-03-03',
    '2023-07-03',
    '2022-08-03',
    '2022-03-03',
    '2022-01-03',
    '2021-10-01',
    '2021-07-01',
    '2020-09-30',
    '2019-12-01',
    '2019-07-01',
    '2019-03-01',
    '2018-06-01',
  ],
  'microsoft.compute/virtualmachines': COMPUTE_RP_VERSIONS,
  'microsoft.compute/images': COMPUTE_RP_VERSIONS,
  'microsoft.compute/locations': COMPUTE_RP_VERSIONS,
  'microsoft.compute/disks': [
    '2026-03-02',
    '2025-01-02',
    '2024-03-02',
    '2023-10-02',
    '2023-04-02',
    '2023-01-02',
    '2022-07-02',
    '2022-03-02',
    '2021-12-01',
    '2021-08-01',
    '2021-04-01',
    '2020-12-01',
    '2020-09-30',
  ],
  'microsoft.network': ['2026-01-01', '2025-05-01', '2024-05-01', '2022-01-01', '2021-08-01', '2021-05-01'],
  // resources.json (resource groups, resources) and subscriptions.json (subscription GET) stable
  // versions named by the resources readme's package tags, after the SDK's.
  'microsoft.resources': [
    '2025-04-01',
    '2022-12-01',
    '2022-09-01',
    '2021-04-01',
    '2021-01-01',
    '2020-10-01',
    '2020-08-01',
    '2020-06-01',
    '2019-10-01',
    '2019-08-01',
  ],
  // Every stable folder of azure-rest-api-specs `specification/resourcegraph/…/Microsoft.ResourceGraph/stable/*`;
  // @azure/arm-resourcegraph 5 pins 2024-04-01.
  'microsoft.resourcegraph': ['2024-04-01', '2022-10-01', '2021-03-01', '2019-04-01'],
  'microsoft.authorization': ['2022-04-01', '2015-07-01'],
  'microsoft.managedidentity': ['2023-01-31', '2024-11-30'],
  'microsoft.storage': ['2025-01-01', '2023-05-01'],
};

export function apiVersionsFor(type: string): string[] {
  const t = type.toLowerCase();
  let best: string[] = [];
  let bestLen = -1;
  for (const [k, v] of Object.entries(API_VERSIONS)) {
    if ((t === k || t.startsWith(k + '/')) && k.length > bestLen) {
      best = v;
      bestLen = k.length;
    }
  }
  return best;
}
