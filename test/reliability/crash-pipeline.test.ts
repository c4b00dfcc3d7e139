/**
 * Crash suite: a whole pipeline (preflight, Image Builder run, test VM, two approvals over Service
 * Bus, promotion ENG → TEST → PROD) while the factory's host is killed (SIGKILL) at seeded random
 * points and started again on the same SQLite files. Azure (the simulator) and Service Bus (the
 * local AMQP peer) live in this process and outlive every kill, as they would in Azure; one scaled
 * clock is shared across processes, so simulated time keeps running while the host is down.
 *
 * Kill points are counted in what the factory does to the outside world: each ARM request the
 * simulator receives and each approval message the peer enqueues or delivers. A point kills the
 * host the moment that event happens (Azure acts on a call whose answer the caller never gets) or
 * a few milliseconds later (the answer arrived, the host had not recorded it yet). Four of the
 * points are on the approval path (a request just sent, a decision just delivered, a decision
 * just raised); the rest fall anywhere in the run.
 *
 * Checked: the build completes and is promoted; exactly one template run, one test VM and one
 * copy per gallery; one approval request per stage reached release management; the decision
 * raised before a kill is not lost (both stages approved with our change tickets); refusals are
 * only duplicates of a decision already taken; nothing left behind in Azure.
 *
 * CRASH_SUITE_POINTS (default 20) and CRASH_SUITE_SEED change the run.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServiceBusClient, type ServiceBusReceiver, type ServiceBusSender } from '@azure/service-bus';
import { startAzureSimulator, createStandardWorld } from '../../src/local/azure-sim';
import type { AzureSimulator } from '../../src/local/azure-sim/api';
import { startServiceBusPeer, type ServiceBusPeer } from '../../src/local/servicebus/peer';
import { DUPLICATE_DETECTION_WINDOW_MS } from '../../src/local/servicebus/local-bus';
import { pipelineSettingsForWorld, settingsForWorld } from '../../src/local/world-settings';
import { ScaledClock } from '../../src/shared/clock';
import { seededRandom } from '../../src/local/azure-sim/util';
import { answerRequest, bodyAsJson, parseSigningKey } from '../../src/domain/approvals';
import { sendSignedDecision } from '../approvals/fixtures/release-management';
import type { ApprovalRequest } from '../../src/ports/approvals';
import type { BuildCustomStatus } from '../../src/domain/build-status';
import type { CrashChildConfig } from './crash-pipeline-child';
import { leftovers, sideEffectsOf, versionsOf } from '../pipeline/side-effects';
import { spawnTsx } from '../pipeline/harness';

const POINTS = Number(process.env.CRASH_SUITE_POINTS ?? 20);
const SEED = Number(process.env.CRASH_SUITE_SEED ?? 20261129);
/** Simulated time runs this much faster than real time: the 60-minute build takes 30 s / SPEEDUP. */
const SPEEDUP = 2000;
/**
 * Outside events (ARM requests + approval messages) of this pipeline run without kills, measured
 * (CRASH_SUITE_POINTS=0 CRASH_SUITE_TRACE=1): 179, the TEST approval requested at the 151st.
 * Random points fall in the first 60 % of that, so every one is reached.
 */
const EVENTS_WITHOUT_KILLS = 179;
const KEY = randomBytes(24).toString('base64url');
const QUEUES = ['approval-requests', 'approval-decisions', 'approval-rejects'];

interface KillPoint {
  /** The n-th outside event, or the first approval event matching `on`. */
  at?: number;
  on?: RegExp;
  delayMs: number;
}
interface Kill {
  event: string;
  delayMs: number;
  /** The build's step and message as last read before the kill. */
  status: string;
}

const sample = (
  JSON.parse(readFileSync('local.settings.sample.json', 'utf8')) as { Values: Record<string, string> }
).Values;

describe('crash suite: SIGKILL of the host across a whole pipeline', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'crash-pipeline-'));
  const realOrigin = Date.now();
  const clock = new ScaledClock(SPEEDUP, realOrigin, realOrigin);
  const random = seededRandom(SEED);
  const peerLog: string[] = [];
  const hostOutput: string[] = [];
  let sim: AzureSimulator;
  let peer: ServiceBusPeer;
  let releaseManagement: ServiceBusClient;
  let requests: ServiceBusReceiver;
  let decisions: ServiceBusSender;
  let child: ChildProcessWithoutNullStreams | undefined;
  let lastStatus = 'not started';

  // --- kill points -------------------------------------------------------------------------
  // Anchored points: the approval path and the promotion writes, which random points over the
  // whole run would rarely hit.
  const anchoredPoints: KillPoint[] = [
    { on: /approval-requests: enqueued .*-TEST-1/, delayMs: 0 },
    { on: /approval-decisions: #\d+ delivered \(earlier deliveries: 0\)/, delayMs: 0 },
    { on: /approval decision accepted: approved TEST/, delayMs: 0 },
    { on: /^PUT .*\/galleries\/gal_test\/images\/[^/]+\/versions\//, delayMs: 0 },
    { on: /^PUT .*\/galleries\/gal_prod\/images\/[^/]+\/versions\//, delayMs: 0 },
    { on: /approval decision accepted: approved PROD/, delayMs: 0 },
    { on: /^PATCH .*\/galleries\/gal_prod\/images\/[^/]+\/versions\//, delayMs: 0 },
  ].slice(0, Math.min(7, POINTS));
  const randomPoints: KillPoint[] = [];
  {
    const indices = new Set<number>();
    const count = Math.max(0, POINTS - anchoredPoints.length);
    // The first 60 %: preflight, build and test (the rest is approvals and promotion, anchored).
    // Work re-done after a kill is not counted, and polls a restarted host repeats are not either,
    // so a run with kills counts fewer events than one without (≈ 120 where the TEST approval is
    // requested, against 151 without kills).
    while (indices.size < count) indices.add(1 + Math.floor(random() * EVENTS_WITHOUT_KILLS * 0.6));
    for (const at of [...indices].sort((a, b) => a - b))
      randomPoints.push({ at, delayMs: random() < 0.5 ? 0 : 1 + Math.floor(random() * 40) });
  }
  const kills: Kill[] = [];
  let events = 0;
  let killing = false;
  const killNow = (event: string, delayMs: number) => {
    const target = child;
    if (killing || target === undefined) return false;
    killing = true;
    const recorded: Kill = { event, delayMs, status: lastStatus };
    const doKill = () => {
      kills.push(recorded);
      target.kill('SIGKILL');
    };
    if (delayMs === 0) doKill();
    else setTimeout(doKill, delayMs);
    return true;
  };
  const trace: string[] = [];
  /** Events already counted, as `<event>#<n-th time in its host's life>`. */
  const counted = new Set<string>();
  let timesThisLife = new Map<string, number>();
  const outsideEvent = (event: string) => {
    // Work a restarted host does again (the interrupted activity's calls) is not progress: a
    // point falls where the run without kills would have been, so the points spread over the
    // whole pipeline instead of piling up in the first activity that is re-done after each kill.
    const times = (timesThisLife.get(event) ?? 0) + 1;
    timesThisLife.set(event, times);
    if (counted.has(`${event}#${times}`)) return;
    counted.add(`${event}#${times}`);
    events += 1;
    trace.push(`${events}\t${lastStatus.slice(0, 40)}\t${event}`);
    const next = randomPoints[0];
    if (next?.at !== undefined && events >= next.at && killNow(`#${events} ${event}`, next.delayMs))
      randomPoints.shift();
  };
  const anchoredEvent = (line: string) => {
    const index = anchoredPoints.findIndex((point) => point.on?.test(line));
    const point = anchoredPoints[index];
    if (point === undefined) return;
    anchoredPoints.splice(index, 1);
    // Its moment passed while another kill was under way (a retry may not repeat the call, as
    // it looks before it creates): it kills at the next event instead.
    if (!killNow(line.replace(/^\[[^\]]+\]\s*/, ''), point.delayMs))
      randomPoints.unshift({ at: events + 1, delayMs: 0 });
  };

  // --- the world that outlives the host ----------------------------------------------------
  let env: Record<string, string>;
  let signingKey: Buffer;
  beforeAll(async () => {
    sim = await startAzureSimulator({
      clock,
      seed: 11,
      tokenLifetimeMs: 365 * 24 * 3600_000,
      onRequest: (request) => {
        outsideEvent(`${request.method} ${request.path}`);
        anchoredEvent(`${request.method} ${request.path}`);
      },
    });
    const world = createStandardWorld(sim);
    peer = await startServiceBusPeer({
      queues: QUEUES,
      // A message locked by a killed host comes back after 2.5 s (80 simulated minutes).
      lockDurationMs: 2500,
      duplicateDetectionWindowMs: DUPLICATE_DETECTION_WINDOW_MS,
      log: (line) => {
        peerLog.push(line);
        // Enqueued and delivered messages carry their sequence number: each counts once.
        if (/approval-(requests: enqueued|decisions: #\d+ delivered)/.test(line)) {
          outsideEvent(line);
          anchoredEvent(line);
        }
      },
    });
    const signingSetting = `base64:${randomBytes(32).toString('base64')}`;
    signingKey = parseSigningKey(signingSetting);
    env = {
      ...Object.fromEntries(Object.entries(sample).filter(([, value]) => value !== '')),
      TASK_HUB_NAME: 'CrashSuite',
      ...settingsForWorld(sim, world, { caFile: path.join(dir, 'simulator-ca.pem') }),
      ...pipelineSettingsForWorld(world),
      ARM_POLL_INTERVAL_MS: '20',
      ServiceBusConnection: peer.connectionString,
      APPROVAL_SIGNING_KEY: signingSetting,
      // No cadence builds of its own in the middle of the count, and no retention run: a restarted
      // host fires a missed retention schedule at once (past due), and its ARM reads would be
      // counted as outside events, so a kill point could fall before the host is READY.
      'AzureWebJobs.patchCadence.Disabled': 'true',
      'AzureWebJobs.retention.Disabled': 'true',
    };
    const config: CrashChildConfig = {
      env,
      speedup: SPEEDUP,
      origin: realOrigin,
      realOrigin,
      dataDirectory: path.join(dir, 'host'),
      functionKey: KEY,
    };
    writeFileSync(path.join(dir, 'child.json'), JSON.stringify(config));
    releaseManagement = new ServiceBusClient(peer.connectionString);
    requests = releaseManagement.createReceiver('approval-requests');
    decisions = releaseManagement.createSender('approval-decisions');
  }, 30_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await requests?.close();
    await decisions?.close();
    await releaseManagement?.close();
    await peer?.stop();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the host; resolves with its front end's URL once it listens. */
  const launch = async (): Promise<{ url: string; exited: Promise<void> }> => {
    let ready: (url: string) => void = () => undefined;
    const readyUrl = new Promise<string>((resolve) => (ready = resolve));
    const started = spawnTsx('test/reliability/crash-pipeline-child.ts', [path.join(dir, 'child.json')], {
      onLine: (line, stream) => {
        hostOutput.push(line);
        if (stream === 'stderr') return;
        // The approvals trigger logs an accepted decision after raising it: a kill point.
        anchoredEvent(line);
        const url = /^READY (\S+)/.exec(line)?.[1];
        if (url !== undefined) ready(url);
      },
    });
    child = started.child;
    killing = false;
    timesThisLife = new Map();
    const { exited } = started;
    const url = await new Promise<string>((resolve, reject) => {
      void readyUrl.then(resolve);
      void exited.then(() =>
        reject(new Error(`host exited before READY:\n${hostOutput.slice(-20).join('\n')}`)),
      );
    });
    return { url, exited };
  };

  const api = async (url: string, route: string, init: RequestInit = {}) => {
    const response = await fetch(`${url}${route}`, {
      ...init,
      headers: { 'x-functions-key': KEY, 'content-type': 'application/json', ...init.headers },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  /** Release management: answers each request once, signed, whatever the host is doing. */
  const answered = new Map<string, number>();
  const requestMessages: string[] = [];
  const answerRequests = async () => {
    const received = await requests.receiveMessages(5, { maxWaitTimeInMs: 50 });
    for (const message of received) {
      const request = (bodyAsJson(message.body) as { data: ApprovalRequest }).data;
      requestMessages.push(request.requestId);
      await requests.completeMessage(message);
      if (answered.has(request.requestId)) continue;
      answered.set(request.requestId, answered.size + 1);
      const decision = answerRequest(request, {
        decision: 'approved',
        approver: 'release.manager@contoso.com',
        changeTicket: `CHG-CRASH-${request.stage}`,
        decidedAt: new Date(clock.now()).toISOString(),
      });
      await sendSignedDecision(decisions, decision, signingKey);
    }
  };

  it(`finishes a pipeline killed at ${POINTS} points with no side effect twice and no approval lost`, async () => {
    const began = Date.now();
    let buildId: string | undefined;
    let final: Record<string, unknown> | undefined;
    let starts = 0;
    const giveUp = Date.now() + 240_000;
    while (final === undefined) {
      if (Date.now() > giveUp)
        throw new Error(
          `no end after ${starts} starts (${lastStatus}); host:\n${hostOutput.slice(-30).join('\n')}`,
        );
      const { url, exited } = await launch();
      starts += 1;
      let alive = true;
      void exited.then(() => (alive = false));
      if (buildId === undefined) {
        const started = await api(url, '/api/builds', {
          method: 'POST',
          body: JSON.stringify({ pipeline: 'ubuntu-2204-base', reason: 'crash suite' }),
        });
        expect(started.status).toBe(202);
        buildId = started.body.id as string;
      }
      while (alive) {
        await answerRequests();
        let view: Awaited<ReturnType<typeof api>>;
        try {
          view = await api(url, `/api/builds/${buildId}`);
        } catch {
          continue; // killed mid-request
        }
        lastStatus = `${String(view.body.step)}: ${String(view.body.message)}`;
        if (!['Running', 'Pending'].includes(view.body.runtimeStatus as string)) {
          final = view.body;
          // A decision locked by a killed host comes back when its lock expires, possibly after
          // the build ended: the last host must still settle it (refused as a duplicate).
          while (peer.queue('approval-decisions').counts.active > 0 && Date.now() < giveUp)
            await new Promise((resolve) => setTimeout(resolve, 50));
          break;
        }
        if (Date.now() > giveUp) break;
      }
      if (alive) {
        child?.kill('SIGTERM');
        await exited;
      }
    }
    const seconds = (Date.now() - began) / 1000;
    if (process.env.CRASH_SUITE_TRACE === '1')
      writeFileSync(path.join(tmpdir(), 'crash-trace.txt'), trace.join('\n'));

    console.log(
      `crash suite: ${kills.length} kills, ${starts} host starts, ${events} outside events, ${seconds.toFixed(1)} s; ` +
        `${peerLog.filter((l) => l.includes('(duplicate detection)')).length} re-sent request(s) dropped by duplicate detection, ` +
        `${peer.queue('approval-rejects').active.length} decision(s) delivered again and refused as duplicates\n` +
        kills.map((k, i) => `  ${i + 1}. ${k.event} +${k.delayMs} ms (build at ${k.status})`).join('\n') +
        `\n  not reached: ${JSON.stringify([...randomPoints, ...anchoredPoints].map((p) => p.at ?? String(p.on)))}` +
        `\n  ended: ${JSON.stringify({ runtimeStatus: final.runtimeStatus, outcome: final.outcome, failure: final.failure }).slice(0, 2000)}`,
    );

    // Every kill point was reached, across the whole run.
    expect(kills).toHaveLength(POINTS);
    expect(starts).toBe(POINTS + 1);
    expect(final.runtimeStatus).toBe('Completed');
    expect(final.outcome).toBe('succeeded');
    const stages = final.stages as BuildCustomStatus['stages'];
    // The decisions raised just before kills were not lost: both stages approved, by us.
    expect(stages.map((s) => [s.name, s.approval?.decision, s.approval?.changeTicket])).toEqual([
      ['ENG', undefined, undefined],
      ['TEST', 'approved', 'CHG-CRASH-TEST'],
      ['PROD', 'approved', 'CHG-CRASH-PROD'],
    ]);
    expect([...answered.keys()]).toEqual([`${buildId}-TEST-1`, `${buildId}-PROD-1`]);
    // Release management heard of each request once.
    expect(requestMessages).toEqual([`${buildId}-TEST-1`, `${buildId}-PROD-1`]);
    // Decisions delivered again after a kill are refused only as duplicates, and kept.
    const rejects = peer.queue('approval-rejects').active;
    expect(rejects.map((m) => m.applicationProperties.reason).filter((r) => r !== 'duplicate')).toEqual([]);
    expect(peer.queue('approval-decisions').counts).toMatchObject({ active: 0, deadLettered: 0 });

    // Side effects in Azure, from the simulator's own log: once each, and nothing left.
    expect(sideEffectsOf(sim, buildId!)).toEqual({ runs: 1, testVms: 1, copies: 2 });
    const versions = versionsOf(sim, buildId!);
    expect(new Set(versions.map((v) => v.id.split('/')[2])).size).toBe(3);
    expect(versions).toHaveLength(3);
    expect(leftovers(sim)).toEqual([]);
  }, 300_000);
});
