/**
 * The Blob data plane (path-style /{account}/{container}/{blob}): GET/HEAD with ranges, List Blobs,
 * SAS and bearer-token authorization, storage errors as XML. Blob contents live in BlobStore.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Simulator } from './sim';
import { eqi } from './util';

/** Blob contents by lower-case "account/container/blob", with the clock time of the last write. */
export class BlobStore extends Map<string, string> {
  readonly modified = new Map<string, number>();

  constructor(private readonly now: () => number) {
    super();
  }

  override set(key: string, value: string): this {
    // Map's constructor never calls set here (no initial entries), so `modified` exists.
    this.modified.set(key, this.now());
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    this.modified.delete(key);
    return super.delete(key);
  }
}

/**
 * The operation key of a Blob request (callCounts, fault plans): `GET blob/list` for List Blobs (a
 * container's `comp=list`), `<METHOD> blob` for a blob.
 */
export function blobOperation(req: IncomingMessage, url: URL, seg: string[]): string {
  const listing = seg.length <= 2 && url.searchParams.get('comp') === 'list';
  return listing ? 'GET blob/list' : `${req.method ?? 'GET'} blob`;
}

export function blobRequest(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  seg: string[],
): void {
  sim.count(blobOperation(req, url, seg));
  const [account = '', container = '', ...rest] = seg;
  const blobName = rest.join('/');
  const accountRes = [...sim.resources.values()].find(
    (r) => r.type === 'Microsoft.Storage/storageAccounts' && eqi(r.name, account),
  );
  const storageError = (status: number, code: string, message: string, detail?: string): void => {
    // Storage puts the reason of an authentication failure in <AuthenticationErrorDetail>, not in
    // <Message> (Azure/azure-sdk-for-java#24926, microsoft/AzureStorageExplorer#3147).
    const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message>${detail === undefined ? '' : `<AuthenticationErrorDetail>${detail}</AuthenticationErrorDetail>`}</Error>`;
    res.writeHead(status, { 'Content-Type': 'application/xml', 'x-ms-error-code': code });
    res.end(xml);
  };
  if (!accountRes) return storageError(404, 'ResourceNotFound', 'The specified resource does not exist.');
  const sig = url.searchParams.get('sig');
  const auth = req.headers.authorization;
  let allowed = false;
  if (sig !== null) {
    const sas = accountRes.internal.sas as string[] | undefined;
    const se = url.searchParams.get('se');
    allowed = (sas ?? []).includes(sig) && (se === null || Date.parse(se) > sim.clock.now());
    if (allowed && blobName === '' && url.searchParams.get('comp') === 'list')
      // the SAS this simulator issues is a read SAS for blobs (sr=b, sp=r): it cannot list a container
      return storageError(
        403,
        'AuthorizationResourceTypeMismatch',
        'This request is not authorized to perform this operation using this resource type.',
      );
    if (!allowed)
      return storageError(
        403,
        'AuthenticationFailed',
        'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
      );
  } else if (auth?.startsWith('Bearer ')) {
    const v = sim.validateToken(auth.slice(7), [
      'https://storage.azure.com',
      `https://${account}.blob.core.windows.net`,
    ]);
    if (!('claims' in v))
      return storageError(
        401,
        'InvalidAuthenticationInfo',
        'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
      );
    if (!eqi(v.claims.tid, sim.tenantOf(accountRes.subscriptionId)))
      return storageError(
        401,
        'InvalidAuthenticationInfo',
        'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
        'Issuer validation failed. Issuer did not match.',
      );
    if (
      !sim.can(
        v.claims.oid,
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
        `${accountRes.id}/blobServices/default/containers/${container}`,
        true,
      )
    ) {
      return storageError(
        403,
        'AuthorizationPermissionMismatch',
        'This request is not authorized to perform this operation using this permission.',
      );
    }
    allowed = true;
  } else {
    return storageError(404, 'ResourceNotFound', 'The specified resource does not exist.');
  }
  if (blobName === '' && url.searchParams.get('comp') === 'list') {
    return listBlobs(sim, res, account, container, url.searchParams.get('prefix') ?? '', storageError);
  }
  const content = sim.blobs.get(`${account}/${container}/${blobName}`.toLowerCase());
  if (content === undefined) return storageError(404, 'BlobNotFound', 'The specified blob does not exist.');
  const etag = `"0x${createHash('sha1').update(content).digest('hex').slice(0, 15).toUpperCase()}"`;
  const headers = {
    'Content-Length': Buffer.byteLength(content),
    'Content-Type': 'text/plain',
    'x-ms-blob-type': 'BlockBlob',
    'x-ms-version': '2025-01-05',
    ETag: etag,
    'Last-Modified': new Date(sim.clock.now()).toUTCString(),
    'Accept-Ranges': 'bytes',
  };
  if (req.method === 'HEAD') {
    res.writeHead(200, headers);
    return void res.end();
  }
  const range = /bytes=(\d+)-(\d*)/.exec(String(req.headers['x-ms-range'] ?? req.headers.range ?? ''));
  if (range) {
    const buf = Buffer.from(content);
    const first = Number(range[1]);
    const last = range[2] ? Math.min(Number(range[2]), buf.length - 1) : buf.length - 1;
    const part = buf.subarray(first, last + 1);
    res.writeHead(206, {
      ...headers,
      'Content-Length': part.length,
      'Content-Range': `bytes ${first}-${last}/${buf.length}`,
    });
    return void res.end(part);
  }
  res.writeHead(200, headers);
  res.end(content);
}

/** List Blobs (GET /{account}/{container}?restype=container&comp=list[&prefix=]): flat listing, one page. */
function listBlobs(
  sim: Simulator,
  res: ServerResponse,
  account: string,
  container: string,
  prefix: string,
  storageError: (status: number, code: string, message: string) => void,
): void {
  const base = `${account}/${container}/`.toLowerCase();
  const keys = [...sim.blobs.keys()].filter((k) => k.startsWith(base));
  if (keys.length === 0)
    return storageError(404, 'ContainerNotFound', 'The specified container does not exist.');
  const xml = (v: string): string =>
    v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const items = keys
    .map((k) => ({ key: k, name: k.slice(base.length) }))
    .filter((b) => b.name.startsWith(prefix.toLowerCase()))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((b) => {
      const content = sim.blobs.get(b.key) ?? '';
      const modified = new Date(sim.blobs.modified.get(b.key) ?? sim.clock.now()).toUTCString();
      const etag = `0x${createHash('sha1').update(content).digest('hex').slice(0, 15).toUpperCase()}`;
      return (
        `<Blob><Name>${xml(b.name)}</Name><Properties>` +
        `<Creation-Time>${modified}</Creation-Time><Last-Modified>${modified}</Last-Modified>` +
        `<Etag>${etag}</Etag><Content-Length>${Buffer.byteLength(content)}</Content-Length>` +
        `<Content-Type>text/plain</Content-Type><BlobType>BlockBlob</BlobType>` +
        `<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>` +
        `<ServerEncrypted>true</ServerEncrypted></Properties></Blob>`
      );
    });
  const body =
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<EnumerationResults ServiceEndpoint="${xml(sim.armEndpoint)}/${xml(account)}/" ContainerName="${xml(container)}">` +
    (prefix === '' ? '' : `<Prefix>${xml(prefix)}</Prefix>`) +
    `<Blobs>${items.join('')}</Blobs><NextMarker /></EnumerationResults>`;
  res.writeHead(200, {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
    'x-ms-version': '2025-01-05',
  });
  res.end(body);
}

/** Creates a read SAS for a storage account; returns the query string (without '?'). */
export function createSas(sim: Simulator, accountId: string, expiresAt: number): string {
  const account = sim.getResource(accountId);
  if (!account) throw new Error(`createSas: unknown account ${accountId}`);
  const sig = randomBytes(24).toString('base64');
  account.internal.sas = [...((account.internal.sas as string[] | undefined) ?? []), sig];
  sim.credentials.push({ kind: 'sasSignature', value: sig });
  return new URLSearchParams({
    sv: '2025-01-05',
    sr: 'b',
    sp: 'r',
    se: new Date(expiresAt).toISOString(),
    sig,
  }).toString();
}
