/**
 * Build events as CloudEvents 1.0 (docs/notifications.md has the schema of each `type` and its
 * `data`). The `id` is derived from the build, the event and its stage, so an activity the host
 * retries publishes the same id again and subscribers drop the duplicate (CloudEvents: source + id
 * identify an event).
 */
import { FactoryError } from '../../shared/errors';

export const BUILD_EVENT_KINDS = [
  'started',
  'waitingForApproval',
  'approved',
  'rejected',
  'promoted',
  'failed',
  'revoked',
] as const;
export type BuildEventKind = (typeof BUILD_EVENT_KINDS)[number];

/** CloudEvent `type` per kind: reverse-DNS prefix, one name per fact. */
export const BUILD_EVENT_TYPES: Record<BuildEventKind, string> = {
  started: 'ImageFactory.Build.Started',
  waitingForApproval: 'ImageFactory.Build.WaitingForApproval',
  approved: 'ImageFactory.Build.Approved',
  rejected: 'ImageFactory.Build.Rejected',
  promoted: 'ImageFactory.Build.Promoted',
  failed: 'ImageFactory.Build.Failed',
  revoked: 'ImageFactory.Build.Revoked',
};

export const BUILD_EVENT_SOURCE = '/image-factory/builds';

/** What the orchestration knows when something happened (its input to publishBuildEvent). */
export interface BuildEventInput {
  kind: BuildEventKind;
  buildId: string;
  pipeline: string;
  imageVersion: string;
  /** Orchestration time (context.df.currentUtcDateTime), so a replay sends the same time. */
  occurredAt: string;
  /** Stage of waitingForApproval, approved, rejected, promoted, revoked. */
  stage?: string;
  /** approved/rejected: who and under which change ticket; waitingForApproval: until when. */
  approver?: string;
  changeTicket?: string;
  deadline?: string;
  /** promoted: the version's resource id. */
  versionId?: string;
  /** failed/rejected/revoked: why (a FactoryError code and its message; never a secret). */
  code?: string;
  message?: string;
}

export interface BuildCloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Omit<BuildEventInput, 'kind' | 'occurredAt'>;
}

const NEEDS_STAGE: readonly BuildEventKind[] = [
  'waitingForApproval',
  'approved',
  'rejected',
  'promoted',
  'revoked',
];

/** Checks the input and builds the event; a bad input is refused with every problem named. */
export function buildCloudEvent(input: BuildEventInput): BuildCloudEvent {
  const problems: string[] = [];
  const text = (name: keyof BuildEventInput, value: unknown) => {
    if (typeof value !== 'string' || value.trim() === '') problems.push(`${name} is required`);
  };
  if (!(BUILD_EVENT_KINDS as readonly string[]).includes(input.kind))
    problems.push(`kind '${String(input.kind)}' is not one of ${BUILD_EVENT_KINDS.join(', ')}`);
  text('buildId', input.buildId);
  text('pipeline', input.pipeline);
  text('imageVersion', input.imageVersion);
  if (typeof input.occurredAt !== 'string' || Number.isNaN(Date.parse(input.occurredAt)))
    problems.push('occurredAt must be an ISO 8601 time');
  if (NEEDS_STAGE.includes(input.kind)) text('stage', input.stage);
  if (input.kind === 'failed') text('code', input.code);
  if (problems.length > 0)
    throw new FactoryError('InvalidBuildEvent', `Build event refused: ${problems.join('; ')}`, {
      details: { problems },
    });
  const { kind, occurredAt, ...data } = input;
  return {
    specversion: '1.0',
    // A build starts and fails once; the other events happen once per stage.
    id: `${input.buildId}/${kind}${NEEDS_STAGE.includes(kind) ? `/${input.stage ?? ''}` : ''}`,
    source: BUILD_EVENT_SOURCE,
    type: BUILD_EVENT_TYPES[kind],
    subject: `builds/${input.buildId}`,
    time: new Date(occurredAt).toISOString(),
    datacontenttype: 'application/json',
    data,
  };
}
