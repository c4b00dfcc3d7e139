/**
 * GET /api/assets/{name}: the few static files the console pages load, from the installed
 * packages (a kept charting library, not hand-drawn SVG). Only names listed here are served.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { problem, type ApiRequest, type ApiResponse } from './builds-api';

/** chart.js has no `exports` entry for its browser build: found next to its main file. */
const ASSETS: Record<string, () => string> = {
  'chart.umd.min.js': () => path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'),
};

const loaded = new Map<string, string>();

export function getAsset(request: ApiRequest): ApiResponse {
  const name = request.params.name ?? '';
  const locate = Object.prototype.hasOwnProperty.call(ASSETS, name) ? ASSETS[name] : undefined;
  if (locate === undefined) return problem(404, 'Not Found', 'No such asset.');
  let body = loaded.get(name);
  if (body === undefined) {
    body = readFileSync(locate(), 'utf8');
    loaded.set(name, body);
  }
  return {
    status: 200,
    headers: {
      'content-type': 'text/javascript; charset=utf-8',
      'x-content-type-options': 'nosniff',
      'cache-control': 'public, max-age=3600',
    },
    body,
  };
}
