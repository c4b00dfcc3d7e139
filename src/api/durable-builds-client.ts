/** BuildsClient over the durable client (df.getClient(context)), and the pipelines the API serves. */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { DurableClient } from 'durable-functions';
import { environmentsFileFor, loadPipelines } from '../domain/pipeline/loader';
import type { BuildsClient, InstanceView, Pipelines } from './builds-api';

function view(status: {
  instanceId?: string;
  name?: string;
  runtimeStatus?: unknown;
  customStatus?: unknown;
  output?: unknown;
  input?: unknown;
  createdTime?: Date | string;
  lastUpdatedTime?: Date | string;
}): InstanceView {
  const iso = (value: Date | string | undefined) =>
    value instanceof Date ? value.toISOString() : (value ?? '');
  return {
    instanceId: status.instanceId ?? '',
    name: status.name ?? '',
    runtimeStatus: typeof status.runtimeStatus === 'string' ? status.runtimeStatus : '',
    customStatus: status.customStatus ?? null,
    output: status.output ?? null,
    input: status.input ?? null,
    createdTime: iso(status.createdTime),
    lastUpdatedTime: iso(status.lastUpdatedTime),
  };
}

export function durableBuildsClient(client: DurableClient): BuildsClient {
  return {
    async startNew(name, instanceId, input) {
      await client.startNew(name, { instanceId, input });
    },
    async getStatus(instanceId) {
      try {
        const status = await client.getStatus(instanceId, { showInput: true });
        return status?.instanceId ? view(status) : undefined;
      } catch (error) {
        // The 3.x client throws on the extension's 404.
        if (/\b404\b/.test((error as Error).message)) return undefined;
        throw error;
      }
    },
    async list(runtimeStatus) {
      const all = runtimeStatus
        ? await client.getStatusBy({ runtimeStatus: runtimeStatus as never })
        : await client.getStatusAll();
      return all.map(view);
    },
    raiseEvent: (instanceId, name, data) => client.raiseEvent(instanceId, name, data),
    statusLinks(instanceId) {
      const payload = client.createHttpManagementPayload(instanceId) as unknown as Record<string, string>;
      // The management URLs carry the durable extension's system key (code=): with it anyone who
      // reads an answer could terminate or purge any build, or raise an approval event past the
      // decision checks. Without it they still locate the instance for holders of the master key.
      return Object.fromEntries(
        Object.entries(payload)
          .filter((entry): entry is [string, string] => typeof entry[1] === 'string')
          .map(([name, url]) => [
            name,
            url.replace(/([?&])code=[^&]*(&?)/, (_all, sep: string, more: string) => (more ? sep : '')),
          ]),
      );
    },
  };
}

let cached: { key: string; pipelines: Pipelines } | undefined;

/**
 * Definitions from PIPELINES_DIR, parsed again only when a file there (or a setting) changed:
 * the key is each file's name, size and mtime plus a digest of the settings the ${NAME}
 * placeholders may read. A stat per file per request; no parsing.
 */
export function servedPipelines(
  dir: string,
  env: Record<string, string | undefined> = process.env,
): Pipelines {
  const files = readdirSync(dir)
    .filter((file) => /\.(ya?ml|json)$/.test(file))
    .sort()
    .map((file) => path.join(dir, file));
  // The target environments are part of what is served: a change there re-checks every pipeline.
  const stamps = [...files, environmentsFileFor(dir, env)].map((file) => {
    try {
      const stat = statSync(file);
      return `${path.basename(file)}:${stat.size}:${stat.mtimeMs}`;
    } catch {
      return `${path.basename(file)}:missing`;
    }
  });
  const settings = createHash('sha256')
    .update(JSON.stringify(Object.entries(env).sort(([a], [b]) => a.localeCompare(b))))
    .digest('hex');
  const key = `${path.resolve(dir)}|${stamps.join('|')}|${settings}`;
  if (cached?.key === key) return cached.pipelines;
  const loaded = loadPipelines(dir, env);
  cached = {
    key,
    pipelines: {
      valid: loaded.pipelines,
      invalid: loaded.invalid,
      ...(loaded.environments ? { environments: loaded.environments } : {}),
    },
  };
  return cached.pipelines;
}
