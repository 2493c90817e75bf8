/**
 * action-diagnose's core: everything the runbook's P0/P1/P2 sections ask for, in one read-only pass —
 * each host (pm2, error and out logs, load, memory, disk, top processes, ports, /health), the
 * database (connections, long queries, blocked locks, pg_stat_statements), Redis, external APIs —
 * judged into findings with a severity. Nothing is changed anywhere. Every text that leaves (logs,
 * the bundle) is redacted: secrets given as inputs, the values of each host's env file, bearer
 * tokens, passwords in URLs. A check that cannot run says "not checked" and why.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorText } from '../errors.js';
import { httpGet } from '../health/http-get.js';
import type { HealthCriteria } from '../health/options.js';
import { probeUrl } from '../health/probe.js';
import type { Log } from '../log.js';
import type { DatabaseAccess } from '../postgres/connect.js';
import { maintain } from '../postgres/maintenance/maintain.js';
import { Redactor } from '../redact/redactor.js';
import { healthUrlFor } from '../releases/host-url.js';
import { readPidFiles } from '../releases/pm2.js';
import { isAppProcess } from '../releases/traffic.js';
import { openSession, type SshOptions } from '../ssh/connect.js';
import { CONNECT_PARALLEL } from '../fleet/hosts.js';
import { gate, mapInParallel } from '../fleet/parallel.js';
import { describeTarget, type SshTarget } from '../ssh/target.js';
import { readHostFacts, readLogTails, type HostFacts } from './host-facts.js';
import { sleep } from '../retry/backoff.js';
import type { SshSession } from '../ssh/session.js';
import { judge, overallSeverity, type Finding, type HostObservation, type Observations } from './judge.js';
import { checkRedis, checkRedisOnHost, type RedisFacts } from './redis.js';
import { clientGaveUp, logMetrics, watchLogs } from './log-metrics.js';
import { runSmokeRequests, type SmokeRequest } from '../health/smoke.js';
import { maskEnvValues, maskPm2EnvValues, redactShapes } from './redaction.js';

export interface DiagnoseOptions {
  hosts: SshTarget[];
  ssh?: SshOptions;
  /** The pm2 app to judge; undefined: every app pm2 runs. */
  app?: string;
  /** Each host's env file: its values are redacted from everything shown. */
  envFile?: string;
  healthUrls: string[];
  health: HealthCriteria;
  logLines: number;
  diskWarnPercent: number;
  slowMs: number;
  database?: DatabaseAccess;
  longQueryAfterMs: number;
  /** How long to watch an app that started less than a minute ago for restarts. */
  crashWindowMs: number;
  redisUrl?: URL;
  /** No redis-url: ask redis-cli on the first host, on this port. */
  redisOnHost?: { port: number; password?: string };
  externalUrls: URL[];
  /** How long to watch each app's error log grow (0: not watched). */
  logWindowMs: number;
  /** Requests run against each host's health URL origin, with the status each must get. */
  smokeRequests: SmokeRequest[];
  /** Extra values to redact (the `redact` input). */
  secrets: string[];
  bundleDir?: string;
}

export interface DiagnoseReport {
  severity: ReturnType<typeof overallSeverity>;
  findings: Finding[];
  observations: Observations;
  /** What could not be checked, and why. */
  notChecked: { check: string; why: string }[];
  /** Per host, the last log lines (redacted). */
  logs: { host: string; app: string; kind: 'err' | 'out'; lines: string[] }[];
  bundleFiles: string[];
  durationMs: number;
}

export async function diagnose(options: DiagnoseOptions, deps: { log: Log }): Promise<DiagnoseReport> {
  const { log } = deps;
  const started = performance.now();
  const redactor = new Redactor();
  const mask = (value: string) => {
    redactor.add(value);
    log.mask(value);
  };
  options.secrets.forEach(mask);
  const clean = (text: string) => redactShapes(redactor.redact(text));
  const notChecked: DiagnoseReport['notChecked'] = [];
  const logs: DiagnoseReport['logs'] = [];
  const raw: Record<string, string> = {};

  let redisFromHost: RedisFacts | undefined;
  // Every host read at once, mostly waiting (the log window, probes); at most CONNECT_PARALLEL SSH
  // handshakes at a time (twenty at once would starve two cores).
  const connecting = gate(CONNECT_PARALLEL);
  const hostWork = mapInParallel(
    options.hosts,
    options.hosts.length,
    async (target, index): Promise<HostObservation> => {
      const host = describeTarget(target);
      const observation: HostObservation = { host, errorLines: 0 };
      const url = options.healthUrls.length ? healthUrlFor(options.healthUrls, index, target) : undefined;
      const probe = url
        ? Promise.all([
            probeUrl(url, 1, { ...options.health, urls: [url] }, () => new Date()).then(
              (p) => (observation.health = p),
            ),
            options.smokeRequests.length
              ? runSmokeRequests(url, options.smokeRequests, options.health).then(
                  (results) =>
                    (observation.smoke = results.map((r) =>
                      r.failure ? { ...r, failure: clean(r.failure) } : r,
                    )),
                )
              : undefined,
          ])
        : Promise.resolve();
      try {
        const session = await connecting(() => openSession(target, options.ssh as SshOptions, log));
        try {
          if (options.envFile && !(await maskEnvValues(session, options.envFile, mask)))
            notChecked.push({
              check: `${host}: env file values`,
              why: `${options.envFile} could not be read: its values cannot be redacted by value (shapes still are)`,
            });
          if (!(await maskPm2EnvValues(session, options.app, mask)))
            notChecked.push({
              check: `${host}: pm2 environment values`,
              why: "pm2's daemon is not running or could not be asked: values only pm2 holds cannot be redacted by value (shapes still are)",
            });
          if (index === 0 && options.redisOnHost && !options.redisUrl)
            redisFromHost = await checkRedisOnHost(
              session,
              options.redisOnHost.port,
              options.redisOnHost.password,
            );
          const facts = await readHostFacts(session);
          observation.facts = facts;
          await watchFreshStarts(session, facts, options);
          const apps = options.app
            ? facts.apps.filter((a) => isAppProcess(a.name, options.app as string))
            : facts.apps;
          const paths = apps.flatMap((a) => [a.errLog, a.outLog]).filter((p): p is string => p !== undefined);
          const errLogs = apps.map((a) => a.errLog).filter((p): p is string => p !== undefined);
          const [tails, watch] = await Promise.all([
            readLogTails(session, paths, options.logLines),
            watchLogs(session, errLogs, options.logWindowMs),
          ]);
          for (const a of apps) {
            const err = clean(tails[a.errLog ?? ''] ?? '')
              .split('\n')
              .filter((l) => l.trim() !== '');
            const out = clean(tails[a.outLog ?? ''] ?? '')
              .split('\n')
              .filter((l) => l.trim() !== '');
            const metrics = logMetrics(err, out, new Date());
            const added = a.errLog ? watch.grown[a.errLog] : undefined;
            const age = a.errLog ? watch.ageSeconds[a.errLog] : undefined;
            if (age !== undefined) metrics.errorLogAgeSeconds = age;
            const gaveUp = clientGaveUp(err);
            if (gaveUp) metrics.clientGaveUp = gaveUp.slice(0, 200);
            if (added !== undefined && options.logWindowMs > 0) {
              metrics.errorsPerMinuteNow = Math.round((added / options.logWindowMs) * 60_000 * 10) / 10;
              metrics.watchMs = options.logWindowMs;
            }
            (observation.logMetrics ??= {})[a.name] = metrics;
          }
          for (const a of apps) {
            for (const kind of ['err', 'out'] as const) {
              const path = kind === 'err' ? a.errLog : a.outLog;
              if (!path) continue;
              const lines = clean(tails[path] ?? '')
                .split('\n')
                .filter((l) => l.trim() !== '');
              logs.push({ host, app: a.name, kind, lines });
              raw[`${host}/${a.name}-${kind}.log`] = lines.join('\n');
              if (kind === 'err') observation.errorLines += lines.length;
            }
          }
          for (const [section, text] of Object.entries(facts.raw))
            raw[`${host}/${section}.txt`] = clean(text);
          facts.raw = {}; // in the bundle; the report keeps the parsed figures
        } finally {
          session.close();
        }
      } catch (error) {
        observation.error = clean(errorText(error));
      }
      await probe;
      return observation;
    },
  );
  if (options.hosts.length === 0)
    notChecked.push({
      check: 'hosts',
      why: 'no hosts given: pm2, logs, load, memory, disk and ports were not read',
    });
  if (options.healthUrls.length === 0) notChecked.push({ check: 'health', why: 'no health-url given' });

  const databaseWork = options.database
    ? maintain(
        {
          access: options.database,
          tasks: ['connections', 'long-queries', 'locks', 'slow-queries'],
          terminate: false,
          dryRun: false,
          longQueryAfterMs: options.longQueryAfterMs,
        },
        { log },
      ).then((r) => ({
        results: r.results,
        ...(r.failure && r.results.length === 0 ? { error: clean(r.failure.message) } : {}),
      }))
    : Promise.resolve(undefined);
  if (!options.database) notChecked.push({ check: 'database', why: 'no database-url given' });
  const redisWork = options.redisUrl
    ? checkRedis(options.redisUrl, options.health.timeoutMs)
    : Promise.resolve(undefined);
  if (!options.redisUrl && !(options.redisOnHost && options.hosts.length))
    notChecked.push({ check: 'redis', why: 'no redis-url given (nor redis-cli-port with hosts)' });
  const externalWork = Promise.all(
    options.externalUrls.map(async (url) => {
      try {
        const answer = await httpGet({ url, headers: {}, timeoutMs: options.health.timeoutMs });
        return { url: url.href, status: answer.statusCode, latencyMs: answer.latencyMs };
      } catch (error) {
        return { url: url.href, error: errorText(error) };
      }
    }),
  );

  const [hosts, database, redisDirect, external] = await Promise.all([
    hostWork,
    databaseWork,
    redisWork,
    externalWork,
  ]);
  const redis = redisDirect ?? redisFromHost;
  const observations: Observations = {
    ...(options.app ? { app: options.app } : {}),
    hosts,
    ...(database ? { database } : {}),
    ...(redis ? { redis: { ...redis, ...(redis.error ? { error: clean(redis.error) } : {}) } } : {}),
    external,
    slowMs: options.slowMs,
    diskWarnPercent: options.diskWarnPercent,
  };
  const judgedAt = new Date().toISOString();
  const findings = judge(observations).map((f) => ({ ...f, why: clean(f.why), at: judgedAt }));
  const report: DiagnoseReport = {
    severity: overallSeverity(findings),
    findings,
    observations,
    notChecked,
    logs,
    bundleFiles: [],
    durationMs: Math.round(performance.now() - started),
  };
  if (options.bundleDir) report.bundleFiles = writeBundle(options.bundleDir, raw, report, clean);
  return report;
}

/**
 * A crash-looping app is online between crashes, so one reading cannot tell it from one restarted a
 * moment ago: an app up for less than a minute is read again `crashWindowMs` later, and restarts in
 * between are the crash loop.
 */
async function watchFreshStarts(
  session: SshSession,
  facts: HostFacts,
  options: DiagnoseOptions,
): Promise<void> {
  const fresh = facts.apps.filter(
    (a) =>
      (!options.app || isAppProcess(a.name, options.app)) &&
      (a.status !== 'online' || (a.uptimeMs ?? 0) < 60_000),
  );
  if (fresh.length === 0 || options.crashWindowMs <= 0) return;
  await sleep(options.crashWindowMs);
  // The same pids still alive behind pm2's pid files: nothing restarted, and pm2's CLI (~0.3 s of CPU
  // on the host) need not start to say so. Anything else is pm2's to count.
  const files = fresh.map((a) => (a.status === 'online' && a.pid ? a.pidFile : undefined));
  if (files.every((f) => f !== undefined)) {
    const now = await readPidFiles(session, files as string[]);
    if (now?.every((p, i) => p?.pid === fresh[i]?.pid)) {
      for (const app of fresh) app.restartsInWindow = 0;
      return;
    }
  }
  const later = await readHostFacts(session);
  for (const app of fresh) {
    const again = later.apps.find((a) => a.pmId === app.pmId);
    if (again) app.restartsInWindow = Math.max(0, again.restarts - app.restarts);
  }
}

function writeBundle(
  dir: string,
  raw: Record<string, string>,
  report: DiagnoseReport,
  clean: (text: string) => string,
): string[] {
  const files: string[] = [];
  const write = (name: string, text: string) => {
    const path = join(dir, name.replace(/[^A-Za-z0-9@._/-]/g, '_'));
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, clean(text));
    files.push(path);
  };
  for (const [name, text] of Object.entries(raw)) write(name, text);
  write('report.json', JSON.stringify({ ...report, bundleFiles: undefined }, null, 2));
  return files;
}
