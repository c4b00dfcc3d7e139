/**
 * A failed build that published no failure of its own (e.g. the orchestrator threw before its
 * first status) is shown from the instance's output, which the Durable host prefixes with
 * "Orchestrator function '<name>' failed: " (src/local/host/failures.ts): the API shows the error.
 */
import { buildView } from '../../src/api/builds-api';
import { orchestratorFailure } from '../../src/local/host/failures';

it("shows a failed build's own error, not the host's prefix", () => {
  const view = buildView({
    instanceId: 'b1',
    name: 'buildImagePipeline',
    runtimeStatus: 'Failed',
    customStatus: null,
    output: orchestratorFailure(
      'buildImagePipeline',
      "Cannot read properties of undefined (reading 'stages')",
    ).Reason,
    input: null,
    createdTime: '2026-12-01T00:00:00Z',
    lastUpdatedTime: '2026-12-01T00:00:01Z',
  });
  expect(view.failure).toEqual({
    code: 'OrchestrationFailed',
    message: "Cannot read properties of undefined (reading 'stages')",
    step: 'queued',
  });
});
