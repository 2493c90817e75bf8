/**
 * Deploy verification: poll every URL until `successThreshold` consecutive attempts pass, or give
 * up with evidence when attempts or the deadline run out. The loop knows nothing of the runner.
 */
import type { Log } from '../log.js';
import { backoffDelay, sleepUnlessAborted } from '../retry/backoff.js';
import { formatDuration } from '../config/parse.js';
import { checkDatabase, type DatabaseHealth } from './database-check.js';
import type { HealthOptions } from './options.js';
import { probeUrl, type ProbeRecord } from './probe.js';

export interface HealthReport {
  healthy: boolean;
  attempts: number;
  /** Slowest URL of the last attempt. */
  latencyMs?: number;
  /** Status of the last probe that got an answer. */
  statusCode?: number;
  /** Release id served in the last attempt. */
  version?: string;
  /** Why verification failed, as a sentence naming the URL; undefined when healthy. */
  failure?: string;
  /** The last failing probe, with its body as evidence. */
  lastFailure?: ProbeRecord;
  probes: ProbeRecord[];
  database?: DatabaseHealth;
  warnings: string[];
  durationMs: number;
}

export interface VerifyDeps {
  log: Log;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Stops waiting when aborted (a cancelled run): the report then says so. */
  signal?: AbortSignal;
}

/** How often a just-started app is looked at until it accepts connections (a refused connect costs nothing). */
const LISTEN_POLL_MS = 100;

/**
 * Right after a start the app has not bound its port yet: rather than spend an attempt and a whole
 * interval on that, look every LISTEN_POLL_MS — not counted as attempts — until some URL answers
 * anything but a refusal, or `until` (start-timeout, within the deadline). Returns that first round,
 * which the caller takes as attempt 1.
 */
async function untilListening(
  options: HealthOptions,
  until: number,
  deps: { log: Log; now: () => Date; sleep: (ms: number) => Promise<void>; signal?: AbortSignal | undefined },
): Promise<ProbeRecord[]> {
  let said = false;
  while (true) {
    const round = await Promise.all(options.urls.map((url) => probeUrl(url, 1, options, deps.now)));
    const left = until - deps.now().getTime();
    if (!round.every((probe) => probe.refused) || left <= 0 || deps.signal?.aborted) return round;
    if (!said)
      deps.log.info(
        `waiting for ${options.urls.join(', ')} to accept connections (up to start-timeout, ${formatDuration(left)} more)`,
      );
    said = true;
    await deps.sleep(Math.min(LISTEN_POLL_MS, left));
  }
}

export async function verifyHealth(options: HealthOptions, deps: VerifyDeps): Promise<HealthReport> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => sleepUnlessAborted(ms, deps.signal));
  const started = now().getTime();
  const deadlineAt = started + options.deadlineMs;
  const probes: ProbeRecord[] = [];
  let streak = 0;
  let failuresInRow = 0;
  let attempt = 0;
  let stopReason = '';
  // Until some URL answers, a start that takes longer than start-timeout ends the wait early.
  let listening = false;
  let first =
    options.startTimeoutMs === undefined
      ? undefined
      : await untilListening(options, Math.min(started + options.startTimeoutMs, deadlineAt), {
          log,
          now,
          sleep,
          signal: deps.signal,
        });

  while (true) {
    attempt++;
    const round =
      first ?? (await Promise.all(options.urls.map((url) => probeUrl(url, attempt, options, now))));
    first = undefined;
    probes.push(...round);
    for (const probe of round) {
      const line = `attempt ${attempt}: ${probe.url} → ${probe.statusCode ?? '-'} in ${probe.latencyMs ?? '-'} ms`;
      if (probe.ok) log.info(`${line}: pass${probe.version ? ` (release ${probe.version})` : ''}`);
      else log.info(`${line}: FAIL: ${probe.failure}`);
      for (const warning of probe.warnings) log.warn(`${probe.url}: ${warning}`);
    }
    const passed = round.every((probe) => probe.ok);
    streak = passed ? streak + 1 : 0;
    failuresInRow = passed ? 0 : failuresInRow + 1;
    if (streak >= options.successThreshold) break;

    const failing = round.filter((probe) => !probe.ok);
    if (failing.length > 0 && failing.every((probe) => probe.permanent)) {
      stopReason = 'the failure does not heal by waiting';
      break;
    }
    listening ||= round.some((probe) => !probe.refused);
    if (
      !listening &&
      options.startTimeoutMs !== undefined &&
      now().getTime() - started >= options.startTimeoutMs
    ) {
      stopReason = `nothing listened for ${formatDuration(now().getTime() - started)}, past start-timeout ${formatDuration(options.startTimeoutMs)}: the app does not bind its port`;
      break;
    }
    const attemptsLeft = options.maxAttempts - attempt;
    if (attemptsLeft < options.successThreshold - streak) {
      stopReason =
        attemptsLeft <= 0
          ? `all ${options.maxAttempts} attempts used`
          : `${attemptsLeft} attempts left cannot make ${options.successThreshold} passes in a row`;
      break;
    }
    // After a pass keep the base interval (we are confirming); after failures back off.
    let delay = passed
      ? options.interval.initialMs
      : backoffDelay(options.interval, failuresInRow, deps.random);
    // While nothing listens, look again when start-timeout runs out rather than a long backoff later.
    if (!listening && options.startTimeoutMs !== undefined)
      delay = Math.min(delay, Math.max(0, started + options.startTimeoutMs - now().getTime()));
    if (now().getTime() + delay >= deadlineAt) {
      stopReason = `deadline ${formatDuration(options.deadlineMs)} reached`;
      break;
    }
    await sleep(delay);
    if (deps.signal?.aborted) {
      stopReason = 'the run was cancelled';
      break;
    }
  }

  const last = probes.slice(-options.urls.length);
  const answered = [...probes].reverse().find((probe) => probe.statusCode !== undefined);
  const lastFailure = [...probes].reverse().find((probe) => !probe.ok);
  const healthy = streak >= options.successThreshold;
  const report: HealthReport = {
    healthy,
    attempts: attempt,
    latencyMs: Math.max(...last.map((probe) => probe.latencyMs ?? 0)),
    statusCode: answered?.statusCode,
    version: last.find((probe) => probe.version !== undefined)?.version,
    probes,
    warnings: [...new Set(probes.flatMap((probe) => probe.warnings))],
    durationMs: 0,
  };
  if (!healthy) {
    report.lastFailure = lastFailure;
    report.failure = describeFailure(lastFailure, probes, options, stopReason);
  }

  if (options.databaseUrl) {
    report.database = await log.group('Database check', () =>
      checkDatabase(options.databaseUrl as string, options.timeoutMs),
    );
    const db = report.database;
    if (db.ok)
      log.info(
        `database: SELECT 1 in ${db.latencyMs} ms; connections ${JSON.stringify(db.connectionsByState)}`,
      );
    report.warnings.push(...db.warnings);
    for (const warning of db.warnings) log.warn(warning);
    if (!db.ok) {
      report.healthy = false;
      report.failure = report.failure ? `${report.failure}; ${db.failure}` : db.failure;
    }
  }
  report.durationMs = now().getTime() - started;
  return report;
}

function describeFailure(
  last: ProbeRecord | undefined,
  probes: ProbeRecord[],
  options: HealthOptions,
  stopReason: string,
): string {
  const passes = probes.filter((probe) => probe.ok).length;
  const flapping =
    options.successThreshold > 1 && passes > 0
      ? ` It passed ${passes} of ${probes.length} probes but never ${options.successThreshold} attempts in a row (flapping or crash-looping?).`
      : '';
  const what = last ? `${last.url}: ${last.failure}` : 'no probe failed';
  const attempts = probes.length / options.urls.length;
  return `Not healthy after ${attempts} attempt${attempts === 1 ? '' : 's'} (${stopReason}). Last failure: ${what}.${flapping}`;
}
