/**
 * Durable Task Scheduler: the ARM resources infra/app/durable-task-scheduler.bicep deploys
 * (`Microsoft.DurableTask/schedulers` and its `taskHubs`, api-version 2025-11-01; property names
 * from Azure/bicep-types-az generated/durabletask/microsoft.durabletask/2025-11-01/types.md), so that
 * infra/access.json's Durable Task Data Contributor assignment has its scope in the world.
 *
 * Not modelled (FIDELITY.md "Durable Task Scheduler"): the scheduler's gRPC data plane. The Functions
 * host, not the app, talks to it, and locally the durable host (src/local/host) plays that part.
 */
import type { AzureSimulator } from './api';
import { seedResource } from './seed';
import type { Simulator } from './sim';

const TYPE = 'Microsoft.DurableTask/schedulers';

export interface SimDurableTaskScheduler {
  id: string;
  endpoint: string;
  taskHubId: string;
  dashboardUrl: string;
}

/** Adds a scheduler and its task hub as infra deploys them (Consumption SKU, allow-all ipAllowlist). */
export function addDurableTaskScheduler(
  azure: AzureSimulator,
  args: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    taskHubName: string;
    location: string;
  },
): SimDurableTaskScheduler {
  const sim = azure as Simulator;
  // Azure's endpoints are https://{name}.{region}.durabletask.io; the world has no DNS, so the
  // simulator's own endpoint stands in (nothing in the world calls it).
  const endpoint = `${sim.armEndpoint}/${args.name}`;
  const id = seedResource(sim, {
    ...args,
    type: TYPE,
    properties: {
      endpoint,
      ipAllowlist: ['0.0.0.0/0'],
      sku: { name: 'Consumption', redundancyState: 'None' },
    },
  });
  const taskHubId = `${id}/taskHubs/${args.taskHubName}`;
  // The dashboard link form of "Debug and manage orchestrations using the Durable Task Scheduler dashboard".
  const dashboardUrl = `https://dashboard.durabletask.io/?endpoint=${encodeURIComponent(endpoint)}&taskhub=${encodeURIComponent(args.taskHubName)}`;
  sim.putResource({
    id: taskHubId,
    type: `${TYPE}/taskHubs`,
    name: args.taskHubName,
    subscriptionId: args.subscriptionId,
    resourceGroup: args.resourceGroup,
    location: args.location,
    tags: {},
    properties: { provisioningState: 'Succeeded', dashboardUrl },
  });
  return { id, endpoint, taskHubId, dashboardUrl };
}
