/** Internal model of the simulated Azure (not part of the public contract). */

export interface SimResource {
  id: string;
  /** Canonical type, e.g. "Microsoft.Compute/galleries/images/versions". */
  type: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  tags: Record<string, string>;
  /** ARM `properties` as served (mutable). */
  properties: Record<string, unknown>;
  /** Simulator-only bookkeeping (never served). */
  internal: Record<string, unknown>;
  createdAt: number;
}

export interface Claims {
  tid: string;
  oid: string;
  appid: string;
  aud: string;
  exp: number;
  iss: string;
  sub: string;
}

export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details?: unknown[],
  ) {
    super(message);
  }
}

export interface ArmResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ArmRequest {
  method: string;
  /** Path exactly as sent (no query). */
  path: string;
  segments: string[];
  query: URLSearchParams;
  apiVersion: string | undefined;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  claims: Claims;
  auxiliary: Claims[];
  operation: string;
}
