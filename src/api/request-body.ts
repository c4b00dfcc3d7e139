/**
 * Reads a request body without ever holding more than `max` bytes: a declared Content-Length over
 * the limit is refused before a byte is read, and a body that streams past the limit (chunked, or
 * lying about its length) is cut off at the first chunk that crosses it. The Functions host's own
 * limit is 100 MB (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT); this API's bodies are a few hundred bytes.
 */
import { problem } from './problem';
import type { ApiResponse } from './builds-api';

export interface StreamingRequest {
  headers: { get(name: string): string | null };
  body: ReadableStream<Uint8Array> | null;
}

const tooLarge = (max: number): ApiResponse =>
  problem(413, 'Payload Too Large', `The body is larger than ${max} bytes.`);

export async function readCappedBody(
  request: StreamingRequest,
  max: number,
): Promise<{ text: string } | { error: ApiResponse }> {
  const declared = request.headers.get('content-length');
  if (declared !== null && (!/^\d{1,15}$/.test(declared.trim()) || Number(declared) > max))
    return { error: tooLarge(max) };
  if (request.body === null) return { text: '' };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return { error: tooLarge(max) };
    }
    chunks.push(value);
  }
  return { text: Buffer.concat(chunks).toString('utf8') };
}
