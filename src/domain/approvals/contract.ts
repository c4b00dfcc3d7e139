/**
 * The approvals message contract: CloudEvents 1.0, structured mode, JSON
 * (content type `application/cloudevents+json`). Requests go out on APPROVAL_REQUESTS_QUEUE, decisions
 * come back on APPROVAL_DECISIONS_QUEUE. The zod schemas here are the source of the published JSON
 * Schemas in schemas/ (a test keeps them equal).
 */
import { z } from 'zod';
import type { ApprovalDecision, ApprovalRequest } from '../../ports/approvals';

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';
export const APPROVAL_REQUESTED_TYPE = 'com.imagefactory.approval.requested';
export const APPROVAL_DECIDED_TYPE = 'com.imagefactory.approval.decided';
/** The only signature algorithm: HMAC-SHA256 over canonicalDecision(), base64 (see signing.ts). */
export const SIGALG_HMAC_SHA256 = 'hmac-sha256';

const isoTime = z.iso.datetime({ offset: true });
const text = (max: number) => z.string().min(1).max(max);
/**
 * requestId, buildId and stage: the build id is a Durable instance id, the stage names an external
 * event, and all three go into URL paths of the Durable management API, event sources, subjects and
 * Service Bus message ids. The Durable extension refuses instance ids that start with '@' or contain
 * '/', '\\', '#', '?' or control characters, and ids over 256 characters (DurableClient.StartNewAsync
 * and IsInvalidCharacter in Azure/azure-functions-durable-extension,
 * src/WebJobs.Extensions.DurableTask/ContextImplementations/DurableClient.cs). This rule is narrower:
 * a closed set of characters without '/', at most 128, and neither '.' nor '..', which a URL path
 * resolves away (RFC 3986 section 5.2.4), so 'b-1/..' or '.' could never name the build it claims.
 * One definition: the JSON Schemas in schemas/ carry this pattern, the handler tests ids with it.
 */
export const ID_PATTERN = /^(?!@)(?!\.\.?$)[A-Za-z0-9._:@-]{1,128}$/;
export const isSafeId = (value: unknown): value is string =>
  typeof value === 'string' && ID_PATTERN.test(value);
const token = z
  .string()
  .min(1)
  .max(128)
  .regex(ID_PATTERN, "letters, digits and . _ : @ - only (no '/'), not starting with '@', not '.' or '..'");

export const approvalRequestSchema = z
  .object({
    requestId: token,
    buildId: token,
    pipeline: text(200),
    stage: token,
    imageVersion: text(64),
    recipeHash: text(200),
    testSummary: z.string().max(4000),
    securitySummary: z.string().max(1000).optional(),
    sbomPath: z
      .string()
      .max(300)
      .regex(/^\/api\/builds\/[^/?#\s]+\/sbom$/, 'must be /api/builds/{id}/sbom')
      .optional(),
    requestedAt: isoTime,
    deadline: isoTime,
  })
  .strict();

export const approvalDecisionSchema = z
  .object({
    requestId: token,
    buildId: token,
    stage: token,
    imageVersion: text(64),
    decision: z.enum(['approved', 'rejected']),
    approver: text(200),
    changeTicket: text(100),
    comment: z.string().max(4000).optional(),
    decidedAt: isoTime,
  })
  .strict();

const envelope = {
  specversion: z.literal('1.0'),
  id: text(200),
  source: text(500),
  time: isoTime,
  subject: text(300).optional(),
  datacontenttype: z.literal('application/json'),
};

export const approvalRequestEventSchema = z
  .object({
    ...envelope,
    type: z.literal(APPROVAL_REQUESTED_TYPE),
    data: approvalRequestSchema,
  })
  .strict()
  .meta({
    title: 'Image Factory approval request (CloudEvents 1.0, structured JSON)',
    description:
      'Sent by Image Factory to the approval-requests queue; Service Bus message id = data.requestId.',
  });

export const approvalDecisionEventSchema = z
  .object({
    ...envelope,
    type: z.literal(APPROVAL_DECIDED_TYPE),
    data: approvalDecisionSchema,
    /** CloudEvents extension: signature algorithm; required together with `signature`. */
    sigalg: z.literal(SIGALG_HMAC_SHA256).optional(),
    /** CloudEvents extension: base64 HMAC-SHA256 of canonicalDecision(id, data). */
    signature: z
      .string()
      .regex(/^[A-Za-z0-9+/]{43}=$/, 'base64 of 32 bytes')
      .optional(),
  })
  .strict()
  .meta({
    title: 'Image Factory approval decision (CloudEvents 1.0, structured JSON)',
    description:
      'Sent by release management to the approval-decisions queue. data echoes requestId, buildId, stage and imageVersion of the request exactly.',
  });

export type ApprovalRequestEvent = z.infer<typeof approvalRequestEventSchema>;
export type ApprovalDecisionEvent = z.infer<typeof approvalDecisionEventSchema>;

// The ports' types and the schemas must not drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const requestTypesAgree: Same<z.infer<typeof approvalRequestSchema>, ApprovalRequest> = true;
const decisionTypesAgree: Same<z.infer<typeof approvalDecisionSchema>, ApprovalDecision> = true;
void requestTypesAgree;
void decisionTypesAgree;

/** The request as the CloudEvent Image Factory sends; id = requestId, so re-sends are the same event. */
export function toRequestEvent(request: ApprovalRequest, time: string): ApprovalRequestEvent {
  return approvalRequestEventSchema.parse({
    specversion: '1.0',
    id: request.requestId,
    source: `/imagefactory/builds/${request.buildId}`,
    type: APPROVAL_REQUESTED_TYPE,
    time,
    subject: `${request.buildId}/${request.stage}`,
    datacontenttype: 'application/json',
    data: request,
  });
}

/** The JSON Schemas published under schemas/ (generated, never hand-edited). */
export function approvalJsonSchemas(): Record<string, unknown> {
  return {
    'approval-request.schema.json': {
      $id: 'https://imagefactory.example/schemas/approval-request.schema.json',
      ...z.toJSONSchema(approvalRequestEventSchema),
    },
    'approval-decision.schema.json': {
      $id: 'https://imagefactory.example/schemas/approval-decision.schema.json',
      ...z.toJSONSchema(approvalDecisionEventSchema),
    },
  };
}

/** Reads a Service Bus body as the worker may hand it over: object, JSON text or bytes. */
export function bodyAsJson(body: unknown): unknown {
  let value = body;
  if (value instanceof Uint8Array) value = Buffer.from(value).toString('utf8');
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return undefined;
    }
  }
  return value;
}
