/**
 * The route table of Microsoft.Compute (galleries, images, VMs, disks) and the Microsoft.Network
 * types the simulator models; each type's behaviour lives in its own file beside this one.
 */
import type { Route } from '../sim';
import { listChildren } from './common';
import { deleteDisk, getDisk, patchDisk } from './disks';
import { deleteImage, getGallery, getImage, putImage } from './gallery';
import { deleteVersion, getVersion, patchVersion, putVersion, versionView } from './gallery-versions';
import { getManagedImage, platformVersions } from './images';
import { deleteNic, getNic, getNsg, getSubnet, getVnetWithSubnets, putNic } from './network';
import { deleteVm, getVm, putVm } from './vm';
import { runCommand } from './vm-run-command';

export const computeRoutes: Route[] = [
  { type: 'microsoft.compute/galleries', verb: 'get', handler: getGallery },
  { type: 'microsoft.compute/galleries/images', verb: 'get', handler: getImage },
  { type: 'microsoft.compute/galleries/images', verb: 'put', handler: putImage },
  { type: 'microsoft.compute/galleries/images', verb: 'delete', handler: deleteImage },
  {
    type: 'microsoft.compute/galleries/images',
    verb: 'list',
    handler: (sim, req) => listChildren(sim, req, 'Microsoft.Compute/galleries/images', (r) => sim.view(r)),
  },
  { type: 'microsoft.compute/galleries/images/versions', verb: 'get', handler: getVersion },
  { type: 'microsoft.compute/galleries/images/versions', verb: 'put', handler: putVersion },
  { type: 'microsoft.compute/galleries/images/versions', verb: 'patch', handler: patchVersion },
  { type: 'microsoft.compute/galleries/images/versions', verb: 'delete', handler: deleteVersion },
  {
    type: 'microsoft.compute/galleries/images/versions',
    verb: 'list',
    handler: (sim, req) =>
      listChildren(sim, req, 'Microsoft.Compute/galleries/images/versions', (r) =>
        versionView(sim, r, false),
      ),
  },
  {
    type: 'microsoft.compute/locations/publishers/artifacttypes/offers/skus/versions',
    verb: 'list',
    handler: platformVersions,
  },
  {
    type: 'microsoft.compute/locations/publishers/artifacttypes/offers/skus/versions',
    verb: 'get',
    handler: platformVersions,
  },
  { type: 'microsoft.compute/images', verb: 'get', handler: getManagedImage },
  { type: 'microsoft.compute/virtualmachines', verb: 'get', handler: getVm },
  { type: 'microsoft.compute/virtualmachines', verb: 'put', handler: putVm },
  { type: 'microsoft.compute/virtualmachines', verb: 'delete', handler: deleteVm },
  { type: 'microsoft.compute/virtualmachines', verb: 'action:runcommand', handler: runCommand },
  { type: 'microsoft.compute/disks', verb: 'get', handler: getDisk },
  { type: 'microsoft.compute/disks', verb: 'patch', handler: patchDisk },
  { type: 'microsoft.compute/disks', verb: 'delete', handler: deleteDisk },
  { type: 'microsoft.network/virtualnetworks', verb: 'get', handler: getVnetWithSubnets },
  { type: 'microsoft.network/virtualnetworks/subnets', verb: 'get', handler: getSubnet },
  { type: 'microsoft.network/networksecuritygroups', verb: 'get', handler: getNsg },
  { type: 'microsoft.network/networkinterfaces', verb: 'get', handler: getNic },
  { type: 'microsoft.network/networkinterfaces', verb: 'put', handler: putNic },
  { type: 'microsoft.network/networkinterfaces', verb: 'delete', handler: deleteNic },
];
