/**
 * The hosts of a rotation: each one's env file as found (kept in memory, the way back), the value
 * and grace value in it, its rotation record and pm2 mode; and the two moves every step is made of —
 * change (write the file, restart pm2 with the values, prove it) and revert (the file as found,
 * restart, prove it again). The deploy lease is held throughout, so a deploy, a rollback or another
 * rotation cannot restart the app under us.
 */
import { EnvFile } from '../envfile/envfile.js';
import { readRemoteEnv, replaceRemoteFile, writeRemoteEnv } from '../envfile/remote.js';
import { OperationError, errorText, operationFailure } from '../errors.js';
import { httpGet } from '../health/http-get.js';
import { uncancellable } from '../cancel.js';
import { sleep as realSleep } from '../retry/backoff.js';
import type { SshSession } from '../ssh/session.js';
import { sh, userCommand } from '../ssh/shell.js';
import { healthUrlFor } from '../releases/host-url.js';
import { CONNECT_PARALLEL, closeFleet, openFleet, type HostReportBase } from '../fleet/hosts.js';
import { inParallel, throwFirstRejection, type BatchPlan } from '../fleet/parallel.js';
import {
  hostRuns,
  liveStore,
  type DeployDeps,
  type HostRun,
  type ReleaseTarget,
} from '../releases/host-run.js';
import { isDiskFull } from '../releases/disk.js';
import { pm2DaemonRunning, pm2List, restartWithValues } from '../releases/pm2.js';
import { verifyRunning } from '../releases/switch-verify.js';
import { restartLiveInSlot } from '../releases/slots.js';
import {
  isAppProcess,
  liveUpstream,
  slotName,
  type LiveUpstream,
  type TrafficOptions,
} from '../releases/traffic.js';
import { readRecord, recordPath, type RotationRecord } from './record.js';
import { processHolds } from './process-env.js';

/**
 * The hosts of a procedure that works through the app's env file and pm2 (rotation, set-env, the
 * pm2 operations): where the file is, how a change is proven, and how the hosts are batched.
 */
export interface EnvHostsTarget extends ReleaseTarget, BatchPlan {
  /** Absolute path of the env file on every host. */
  envFile: string;
  /** Where the app runs from, for verify-command. */
  workDir: string;
  /** An env file that resolves (through links) outside app-dir is written only when this says so. */
  allowOutsideAppDir: boolean;
  keepBackups: number;
  verifyCommand?: string;
  /** `{host}` templates or one URL per host; the answer must contain the value's fingerprint. */
  verifyUrls: string[];
  dryRun: boolean;
}

/** What every mode of the rotation needs to reach and judge the hosts: the variable too. */
export interface SecretTarget extends EnvHostsTarget {
  /** The variable, e.g. JWT_SECRET. */
  name: string;
  /** Where the old value stays during the grace window, e.g. JWT_SECRET_PREVIOUS. */
  previousName: string;
}

export type RotationOutcome = 'planned' | 'untouched' | 'unchanged' | 'updated' | 'reverted' | 'not-reverted';

export interface HostRotation extends HostReportBase {
  envFile: string;
  outcome: RotationOutcome;
  /** The backup of the file as found, on the host. */
  backup?: string;
  pm2?: string;
  /** What runs now was proven (healthy, and holding the expected value where a check can see it). */
  verified: boolean;
}

export interface SecretHost {
  run: HostRun;
  report: HostRotation;
  envPath: string;
  recordPath: string;
  /** The file's text as found: what a revert writes back. */
  original: string;
  current?: string;
  previous?: string;
  record: RotationRecord;
  mode: 'cluster' | 'fork';
  /** pm2 runs no process of the app here (only an operation that starts it goes on). */
  absent?: boolean;
  /** A change was attempted here (the file may have been written): a failure must revert it. */
  touched: boolean;
  /** traffic: nginx: what nginx served before the first change here (a revert goes back to it). */
  liveBefore?: LiveUpstream;
}

/**
 * Connects to every host, takes each one's deploy lease (not for a dry run: it changes nothing, not
 * even a lock file), reads the env file, the record and pm2's process list. Values found are masked
 * the moment they are read. Nothing has changed on any host if this throws, and it closes what it
 * opened; once it returns, the caller closes the hosts (closeSecretHosts).
 */
export async function openSecretHosts(
  options: EnvHostsTarget,
  operation: string,
  deps: DeployDeps,
  /** false: a missing env file is no reason to refuse (an operation that only restarts). */
  needEnvFile = true,
  /** false: pm2 not running the app is no reason to refuse (start it: ops start/restart). */
  needProcess = true,
): Promise<SecretHost[]> {
  const runs = hostRuns(options, Date.now());
  const hosts: SecretHost[] = runs.map((run) => ({
    run,
    report: {
      host: run.name,
      envFile: options.envFile,
      outcome: 'untouched',
      verified: false,
      reachable: true,
    },
    envPath: options.envFile,
    recordPath: recordPath(options.envFile),
    original: '',
    record: { version: 1, secrets: {}, pending: {} },
    mode: 'fork',
    touched: false,
  }));
  try {
    // A dry run changes nothing, not even a lock file: it takes no lease.
    await openFleet(runs, options, operation, deps, { lease: !options.dryRun });
    throwFirstRejection(
      await inParallel(hosts, CONNECT_PARALLEL, (host) =>
        readHost(host, options, deps, needEnvFile, needProcess),
      ),
    );
    return hosts;
  } catch (error) {
    await closeSecretHosts(hosts, options, deps);
    throw error;
  }
}

async function readHost(
  host: SecretHost,
  options: EnvHostsTarget,
  deps: DeployDeps,
  needEnvFile: boolean,
  needProcess: boolean,
): Promise<void> {
  const session = host.run.session as SshSession;
  const daemon = await pm2DaemonRunning(session);
  if (!daemon.running)
    throw new OperationError(
      `${host.run.name}: pm2's daemon is not running (no live pid in ${daemon.home}/pm2.pid): nothing runs ${options.pm2.name} under pm2 there. Nothing was changed.`,
      '`pm2 resurrect` on the host brings back the saved process list (`pm2 startup` makes it survive a reboot); or roll back / deploy, which start the app from its release.',
    );
  if (!options.allowOutsideAppDir) {
    // A link to /etc/shadow must not be written through: the file is where the app lives, or nothing.
    const { stdout } = await session.run(
      'where the env file really is',
      sh`readlink -f -- ${host.envPath} || echo; readlink -f -- ${options.appDir} || echo`,
    );
    const [file = '', dir = ''] = stdout.split('\n');
    if (file && dir && file !== dir && !file.startsWith(`${dir}/`))
      throw new OperationError(
        `${host.run.name}: the env file ${host.envPath} resolves to ${file}, outside ${options.appDir}; it is not written through. Nothing was changed.`,
        'point env-file at the file inside app-dir, or set allow-env-file-outside-app-dir: true if that file really is the app’s.',
      );
  }
  const [text, record, processes] = await Promise.all([
    readRemoteEnv(session, host.envPath),
    readRecord(session, host.recordPath),
    pm2List(session),
  ]);
  if (text === undefined && needEnvFile) {
    throw new OperationError(
      `${host.run.name}: the env file ${host.envPath} does not exist. Nothing was changed.`,
      'check env-file (and app-dir / layout): a value written where the app does not read it changes nothing.',
    );
  }
  const mine = processes.filter((p) =>
    options.traffic ? isAppProcess(p.name, options.pm2.name) : p.name === options.pm2.name,
  );
  host.run.processes = processes; // ops start reads it (who else runs from current?)
  host.absent = mine.length === 0;
  if (mine.length === 0 && needProcess) {
    throw new OperationError(
      `${host.run.name}: pm2 runs no app named ${options.pm2.name} (it runs ${processes.map((p) => p.name).join(', ') || 'nothing'}). Nothing was changed.`,
      'check app-name; a rotation must restart the app to prove it holds the new value.',
    );
  }
  const env = EnvFile.parse(text ?? '');
  host.original = text ?? '';
  // The rotated variable's values, when there is one (set-env and the pm2 operations have none).
  if ('name' in options && typeof options.name === 'string') {
    const secret = options as SecretTarget;
    host.current = env.get(secret.name);
    host.previous = env.get(secret.previousName);
  }
  for (const value of [host.current, host.previous]) if (value) deps.log.mask(value);
  host.record = record;
  host.mode = mine[0]?.execMode ?? 'fork';
}

/** What the frame below fills in on any report. */
export interface FramedReport {
  failure?: OperationError;
  durationMs: number;
}

/**
 * The frame of every procedure on these hosts (rotation, retire, the ops operations): the hosts opened
 * when the body asks (a rotation talks to GitHub first), an OperationError becoming the report's
 * failure (anything else — a bug, a ConfigurationError — is thrown on), the hosts closed whatever
 * happened, and the time taken.
 */
export async function onSecretHosts<R extends FramedReport>(
  options: EnvHostsTarget,
  operation: string,
  deps: DeployDeps,
  report: R,
  body: (open: (needEnvFile?: boolean, needProcess?: boolean) => Promise<SecretHost[]>) => Promise<void>,
): Promise<R> {
  const now = deps.now ?? (() => new Date());
  const started = now().getTime();
  let hosts: SecretHost[] | undefined;
  try {
    await body(async (needEnvFile = true, needProcess = true) => {
      hosts = await openSecretHosts(options, operation, deps, needEnvFile, needProcess);
      return hosts;
    });
  } catch (error) {
    report.failure = operationFailure(error);
  } finally {
    if (hosts) await closeSecretHosts(hosts, options, deps);
    report.durationMs = now().getTime() - started;
  }
  return report;
}

export async function closeSecretHosts(
  hosts: SecretHost[],
  options: EnvHostsTarget,
  deps: DeployDeps,
): Promise<void> {
  await closeFleet(
    hosts.map((host) => host.run),
    options,
    deps.log,
  );
}

/**
 * One host's step: write `text` (when it differs), restart or reload pm2 with `values`, then prove it:
 * health gate and stabilization, verify-command, verify-url showing `expected` (a fingerprint).
 */
export async function changeHost(
  host: SecretHost,
  text: string,
  values: Record<string, string>,
  expected: string,
  options: EnvHostsTarget,
  deps: DeployDeps,
  stamp: string,
): Promise<void> {
  const { session } = await liveStore(host.run, options, deps.log);
  host.touched = true;
  if (text !== host.original) {
    const written = await writeRemoteEnv(session, host.envPath, text, {
      keepBackups: options.keepBackups,
      stamp,
    }).catch((error: unknown) => {
      if (!isDiskFull(errorText(error))) throw error;
      throw new OperationError(
        `disk full: the new ${host.envPath} could not be written (No space left on device); the file is as it was.`,
        `free space on ${host.run.name} (\`df -h\`, old .env.bak-* files, \`pm2 flush\` for logs), then run again.`,
        { cause: error },
      );
    });
    if (written.backup) host.report.backup = written.backup;
  }
  if (options.traffic) await restartInSlot(host, session, values, options, deps, true);
  else host.report.pm2 = await restartWithValues(session, options.pm2.name, host.mode, values);
  await verifyHost(host, values, expected, options, deps);
  host.report.outcome = text === host.original ? 'unchanged' : 'updated';
  host.report.verified = true;
}

/** The pm2 name of what serves: the app's, or with traffic: nginx the live slot's. */
function liveAppName(host: SecretHost, options: EnvHostsTarget): string {
  const slot = options.traffic ? host.run.upstream?.slot : undefined;
  return slot ? slotName(options.pm2.name, slot) : options.pm2.name;
}

/**
 * traffic: nginx: the live release started with `values` in the other slot, gated, the traffic moved
 * to it, the old slot stopped (releases/slots.ts) — a restart without pm2's gap. `fresh: false`
 * (a revert) moves the traffic back to the slot that served before, still running untouched; when
 * the traffic never left it, nothing is started.
 */
async function restartInSlot(
  host: SecretHost,
  session: SshSession,
  values: Record<string, string>,
  options: EnvHostsTarget,
  deps: DeployDeps,
  fresh: boolean,
): Promise<void> {
  const traffic = options.traffic as TrafficOptions;
  const live = await liveUpstream(host.run.name, session, traffic);
  host.liveBefore ??= live;
  if (!fresh && live.port === host.liveBefore.port) {
    host.run.upstream = live;
    host.run.processes = await pm2List(session);
    host.report.pm2 = `${liveAppName(host, options)} still serves: the traffic never left it`;
    deps.log.info(`${host.run.name}: ${host.report.pm2}, holding the values as found`);
    return;
  }
  await restartLiveInSlot(host.run, options, deps, { fresh, secretEnv: values });
  host.report.pm2 = host.run.report.pm2 ?? 'switched';
}

/** Back to the file as found, restarted with the values as found, proven healthy. Never cancelled. */
export async function revertHost(
  host: SecretHost,
  values: Record<string, string>,
  options: EnvHostsTarget,
  deps: DeployDeps,
): Promise<void> {
  deps = uncancellable(deps);
  host.report.verified = false;
  try {
    const { session } = await liveStore(host.run, options, deps.log);
    const now = await readRemoteEnv(session, host.envPath);
    if (now !== host.original)
      await replaceRemoteFile(session, 'put the env file back', host.envPath, host.original);
    if (options.traffic) {
      // The slot that served before was never restarted: moved back to (or, if the traffic never
      // left it, only proven), it holds the values as found.
      await restartInSlot(host, session, values, options, deps, false);
    } else {
      host.report.pm2 = await restartWithValues(session, options.pm2.name, host.mode, values);
      await verifyRunning(host.run, session, undefined, options, deps, undefined, host.run.processes);
    }
    await processHolds(session, liveAppName(host, options), values, host.run.processes);
    host.report.outcome = 'reverted';
    host.report.verified = true;
  } catch (error) {
    host.report.outcome = 'not-reverted';
    if (!host.run.session?.connected) host.report.reachable = false;
    host.report.error = [host.report.error, `revert: ${errorText(error)}`].filter(Boolean).join('; ');
    throw error;
  }
}

async function verifyHost(
  host: SecretHost,
  values: Record<string, string>,
  expected: string,
  options: EnvHostsTarget,
  deps: DeployDeps,
): Promise<void> {
  const session = host.run.session as SshSession;
  // traffic: nginx: the switch proved the new slot already (health, pm2's pid, start time, cwd).
  if (!options.traffic)
    await verifyRunning(host.run, session, undefined, options, deps, undefined, host.run.processes);
  await processHolds(session, liveAppName(host, options), values, host.run.processes);
  if (options.verifyCommand) {
    await session.run('verify-command', userCommand(options.workDir, options.verifyCommand), {
      timeoutMs: options.health.deadlineMs,
    });
  }
  if (options.verifyUrls.length > 0) {
    const url = healthUrlFor(options.verifyUrls, host.run.index, host.run.target);
    await showsFingerprint(host.run.name, url, expected, options, deps);
  }
}

/** The verify URL answers 2xx with the fingerprint in its body, within the health deadline. */
async function showsFingerprint(
  name: string,
  url: URL,
  expected: string,
  options: EnvHostsTarget,
  deps: DeployDeps,
): Promise<void> {
  const sleep = deps.sleep ?? realSleep;
  const until = Date.now() + options.health.deadlineMs;
  let last: string;
  for (;;) {
    try {
      const answer = await httpGet({
        url,
        headers: options.health.headers,
        timeoutMs: options.health.timeoutMs,
      });
      if (answer.statusCode >= 200 && answer.statusCode < 300 && answer.body.includes(expected)) return;
      last = `status ${answer.statusCode}, ${answer.body.includes(expected) ? 'fingerprint present' : `no ${expected} in the body`}`;
    } catch (error) {
      last = errorText(error);
    }
    if (Date.now() >= until) break;
    await sleep(Math.min(500, options.health.interval.initialMs));
  }
  throw new OperationError(
    `${name}: verify-url ${url.href} does not show the value's fingerprint ${expected} (${last}): the running app does not hold it.`,
    'check that the app reads the variable at start and that verify-url reports it.',
  );
}

/**
 * Every host a failed step touched, put back as found (revertHost), one after the other; a host that
 * cannot be put back does not stop the others. Returns what could not be put back, host by host.
 */
export async function revertTouched(
  hosts: SecretHost[],
  valuesAsFound: (host: SecretHost) => Record<string, string>,
  target: EnvHostsTarget,
  deps: DeployDeps,
): Promise<{ touched: SecretHost[]; problems: string[] }> {
  const touched = hosts.filter((h) => h.touched);
  const problems: string[] = [];
  for (const host of touched) {
    await deps.log
      .group(`${host.run.name}: put back as found`, () => revertHost(host, valuesAsFound(host), target, deps))
      .catch((error: unknown) => problems.push(`${host.run.name}: ${errorText(error)}`));
  }
  return { touched, problems };
}
