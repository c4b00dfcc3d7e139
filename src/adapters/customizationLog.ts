/**
 * customization.log lives in the `packerlogs` container of the storage account AIB creates in the
 * template's staging resource group. Found the way AIB lays it out: the storage account of the
 * staging group, then the newest `…/customization.log` blob (or the blob URL AIB names in the run
 * message). Read with @azure/storage-blob using the profile's token (Storage Blob Data Reader).
 */
import { Agent } from 'node:https';
import {
  BlobServiceClient,
  newPipeline,
  type RequestPolicy,
  type RequestPolicyFactory,
  type WebResource,
} from '@azure/storage-blob';
import type { ClientFactory } from './clients';
import { parseResourceId } from './clients';
import { classifyAzureError } from './errors';

const PACKER_LOGS = 'packerlogs';
const STORAGE_API_VERSION = '2023-05-01';

/**
 * A v1 request policy that ends a storage request after `timeoutMs`, its body included. The storage
 * SDK sets no client-side timeout (its `tryTimeoutInMs` only asks the server to give up, through the
 * `timeout` query parameter), so a download whose connection died without closing held its activity
 * until functionTimeout, and an out-of-process worker is restarted when a function times out, ending
 * every invocation it runs (Azure/azure-functions-host#8720). An abort signal rather than
 * `request.timeout`: the HTTP client clears that timer once the headers are in, while it aborts a
 * streamed download's body on the signal until the body ends. A download is read in 4 MiB requests
 * (`downloadToBuffer`), each with its own limit. The call fails as a retryable ConnectionFault.
 */
function timeoutPolicy(timeoutMs: number): RequestPolicyFactory {
  return {
    create: (next: RequestPolicy): RequestPolicy => ({
      sendRequest: (request: WebResource) => {
        const timeout = AbortSignal.timeout(timeoutMs);
        const given = request.abortSignal;
        request.abortSignal =
          given === undefined ? timeout : AbortSignal.any([timeout, abortSignalOf(given)]);
        return next.sendRequest(request);
      },
    }),
  };
}

/** The SDK's AbortSignalLike as a DOM AbortSignal (which it is when Node's AbortController made it). */
function abortSignalOf(like: NonNullable<WebResource['abortSignal']>): AbortSignal {
  if (like instanceof AbortSignal) return like;
  const controller = new AbortController();
  if (like.aborted) controller.abort();
  else like.addEventListener('abort', () => controller.abort(), { once: true });
  return controller.signal;
}

/** A v1 request policy that makes storage requests trust the configured CA (per client, not process-wide). */
function trustPolicy(agent: Agent): RequestPolicyFactory {
  return {
    create: (next: RequestPolicy): RequestPolicy => ({
      sendRequest: (request: WebResource) => {
        request.agent = agent;
        return next.sendRequest(request);
      },
    }),
  };
}

export function blobServiceClient(clients: ClientFactory, blobEndpoint: string): BlobServiceClient {
  const pipeline = newPipeline(clients.runtime.store.credential(clients.credentialName), {
    retryOptions: { maxTries: 1 },
  });
  const store = clients.runtime.store;
  pipeline.factories.unshift(timeoutPolicy(store.requestTimeoutMs));
  const tls = store.tlsOptions();
  if (tls !== undefined) pipeline.factories.unshift(trustPolicy(new Agent({ ca: tls.ca, keepAlive: true })));
  return new BlobServiceClient(blobEndpoint, pipeline);
}

function tail(text: string, lines: number): string {
  const all = text.replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n');
  return all.slice(Math.max(0, all.length - Math.max(0, lines))).join('\n');
}

/** Reads the last `tailLines` of customization.log for a staging group; undefined when there is none. */
export async function readCustomizationLog(
  clients: ClientFactory,
  stagingResourceGroupId: string,
  tailLines: number,
  runMessage?: string,
): Promise<string | undefined> {
  const staging = parseResourceId(stagingResourceGroupId);
  if (staging.resourceGroup === undefined) return undefined;
  const context = { operation: 'read customization.log', resource: stagingResourceGroupId };
  try {
    const resources = clients.resources(staging.subscriptionId);
    let account: { id: string; blob: string } | undefined;
    for await (const resource of resources.resources.listByResourceGroup(staging.resourceGroup, {
      filter: "resourceType eq 'Microsoft.Storage/storageAccounts'",
    })) {
      if (
        resource.id === undefined ||
        resource.name === undefined ||
        resource.type?.toLowerCase() !== 'microsoft.storage/storageaccounts'
      )
        continue;
      // AIB names the log's URL in the run message; trust it only when it points into this account.
      const fromMessage = logUrlFromMessage(runMessage);
      if (fromMessage !== undefined && fromMessage.toLowerCase().includes(resource.name.toLowerCase())) {
        account = {
          id: resource.id,
          blob: fromMessage.slice(0, fromMessage.toLowerCase().indexOf(`/${PACKER_LOGS}/`) + 1),
        };
        break;
      }
      const full = await resources.resources.getById(resource.id, STORAGE_API_VERSION);
      const endpoints = (full.properties as { primaryEndpoints?: { blob?: string } } | undefined)
        ?.primaryEndpoints;
      if (endpoints?.blob !== undefined) {
        account = { id: resource.id, blob: endpoints.blob };
        break;
      }
    }
    if (account === undefined) return undefined;
    const container = blobServiceClient(clients, account.blob).getContainerClient(PACKER_LOGS);
    let blobName = blobNameFromMessage(runMessage, account.blob);
    if (blobName === undefined) {
      let newest: { name: string; modified: number } | undefined;
      for await (const blob of container.listBlobsFlat()) {
        if (!blob.name.endsWith('customization.log')) continue;
        const modified = blob.properties.lastModified.getTime();
        if (newest === undefined || modified >= newest.modified) newest = { name: blob.name, modified };
      }
      blobName = newest?.name;
    }
    if (blobName === undefined) return undefined;
    const buffer = await container.getBlobClient(blobName).downloadToBuffer();
    return tail(buffer.toString('utf8'), tailLines);
  } catch (error) {
    const classified = classifyAzureError(error, context);
    if (classified.code === 'NotFound') return undefined;
    throw classified;
  }
}

function logUrlFromMessage(message: string | undefined): string | undefined {
  if (message === undefined) return undefined;
  return /(https:\/\/\S+?\/packerlogs\/\S+?customization\.log)/i.exec(message)?.[1];
}

function blobNameFromMessage(message: string | undefined, blobEndpoint: string): string | undefined {
  const base = blobEndpoint.endsWith('/') ? blobEndpoint : `${blobEndpoint}/`;
  const match = logUrlFromMessage(message);
  if (match === undefined || !match.toLowerCase().startsWith(`${base}${PACKER_LOGS}/`.toLowerCase()))
    return undefined;
  return decodeURIComponent(match.slice(`${base}${PACKER_LOGS}/`.length));
}
