import {
  buildCloudEvent,
  BUILD_EVENT_TYPES,
  type BuildEventInput,
} from '../../src/domain/notifications/events';
import { FactoryError } from '../../src/shared/errors';

const base: BuildEventInput = {
  kind: 'approved',
  buildId: 'build-1',
  pipeline: 'ubuntu-2204-base',
  imageVersion: '2026.1110.1',
  occurredAt: '2026-11-10T06:00:00.000Z',
  stage: 'TEST',
  approver: 'alice@contoso.com',
  changeTicket: 'CHG1',
};

describe('build events as CloudEvents 1.0', () => {
  it('derives the id from build, event and stage, so a retried publish sends the same id', () => {
    const first = buildCloudEvent(base);
    const again = buildCloudEvent({ ...base });
    expect(first.id).toBe('build-1/approved/TEST');
    expect(again).toEqual(first);
    expect(buildCloudEvent({ ...base, stage: 'PROD' }).id).toBe('build-1/approved/PROD');
    expect(buildCloudEvent({ ...base, kind: 'started', stage: undefined }).id).toBe('build-1/started');
    expect(buildCloudEvent({ ...base, kind: 'failed', code: 'TestFailed' }).id).toBe('build-1/failed');
  });

  it('carries the documented attributes and data', () => {
    const event = buildCloudEvent(base);
    expect(event).toEqual({
      specversion: '1.0',
      id: 'build-1/approved/TEST',
      source: '/image-factory/builds',
      type: 'ImageFactory.Build.Approved',
      subject: 'builds/build-1',
      time: '2026-11-10T06:00:00.000Z',
      datacontenttype: 'application/json',
      data: {
        buildId: 'build-1',
        pipeline: 'ubuntu-2204-base',
        imageVersion: '2026.1110.1',
        stage: 'TEST',
        approver: 'alice@contoso.com',
        changeTicket: 'CHG1',
      },
    });
    expect(Object.keys(BUILD_EVENT_TYPES)).toEqual([
      'started',
      'waitingForApproval',
      'approved',
      'rejected',
      'promoted',
      'failed',
      'revoked',
    ]);
  });

  it('refuses a bad event with every problem named', () => {
    const refuse = (input: BuildEventInput): FactoryError => {
      try {
        buildCloudEvent(input);
      } catch (error) {
        return error as FactoryError;
      }
      throw new Error('accepted');
    };
    const error = refuse({
      ...base,
      kind: 'approvd' as BuildEventInput['kind'],
      buildId: ' ',
      occurredAt: 'yesterday',
    });
    expect(error.code).toBe('InvalidBuildEvent');
    expect(error.message).toContain("kind 'approvd' is not one of started, waitingForApproval");
    expect(error.message).toContain('buildId is required');
    expect(error.message).toContain('occurredAt must be an ISO 8601 time');
    expect(refuse({ ...base, stage: undefined }).message).toContain('stage is required');
    expect(refuse({ ...base, kind: 'failed', stage: undefined }).message).toContain('code is required');
  });
});
