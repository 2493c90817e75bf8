/**
 * The runbook's severity definitions applied to what diagnose saw: P0 the API is down, P1 a core
 * function is degraded, P2 slow (over 2 s), P3 minor. One finding per problem, one line saying why,
 * each with the runbook's next step; the incident's severity is the worst finding's.
 */
import { isAppProcess } from '../releases/traffic.js';
import type { TaskResult } from '../postgres/maintenance/tasks.js';
import type { ProbeRecord } from '../health/probe.js';
import type { HostFacts } from './host-facts.js';
import type { RedisFacts } from './redis.js';
import type { LogMetrics } from './log-metrics.js';
import type { SmokeResult } from '../health/smoke.js';

export type Severity = 'P0' | 'P1' | 'P2' | 'P3';

export interface Finding {
  severity: Severity;
  /** A host, the database, Redis or an external URL. */
  where: string;
  check: string;
  why: string;
  next: string;
  /** When diagnose judged it (ISO): the incident report's Timeline places it. */
  at?: string;
}

export interface HostObservation {
  host: string;
  facts?: HostFacts;
  /** Why the host could not be read. */
  error?: string;
  health?: ProbeRecord;
  /** Error lines in the last `log-lines` of the app's error log. */
  errorLines: number;
  /** Per app: rates, requests and the most frequent errors from its logs. */
  logMetrics?: Record<string, LogMetrics>;
  /** The smoke requests against this host's health URL. */
  smoke?: SmokeResult[];
}

export interface ExternalObservation {
  url: string;
  status?: number;
  latencyMs?: number;
  error?: string;
}

export interface Observations {
  app?: string;
  hosts: HostObservation[];
  database?: { results: TaskResult[]; error?: string };
  redis?: RedisFacts;
  external: ExternalObservation[];
  slowMs: number;
  diskWarnPercent: number;
}

const ORDER: Severity[] = ['P0', 'P1', 'P2', 'P3'];

export function judge(o: Observations): Finding[] {
  const findings: Finding[] = [];
  const add = (severity: Severity, where: string, check: string, why: string, next: string) =>
    findings.push({ severity, where, check, why, next });
  const slow = (host: string, ms: number) =>
    add(
      'P2',
      host,
      'health',
      `slow: /health answered in ${ms} ms (over ${o.slowMs} ms)`,
      'check load and slow queries below; the runbook: `pm2 monit`, pg_stat_statements, Redis slowlog.',
    );
  const logs = (app: string) => `\`pm2 logs ${app} --err --lines 100\``;
  for (const h of o.hosts) {
    if (h.error) {
      add(
        'P0',
        h.host,
        'ssh',
        `the host cannot be reached: ${h.error}`,
        'check the droplet in the DigitalOcean console (power, network, firewall), then `systemctl status sshd`.',
      );
    }
    const health = h.health;
    if (health && !health.ok) {
      const down = health.refused || (health.statusCode ?? 0) >= 500 || health.statusCode === undefined;
      if (down)
        add(
          'P0',
          h.host,
          'health',
          `the API is down: ${health.failure ?? 'no healthy answer'}`,
          `${logs(o.app ?? '<app>')}; restart it (runbook ops restart) or roll back (action-rollback) if a deploy just happened.`,
        );
      else if (
        health.latencyMs !== undefined &&
        health.latencyMs > o.slowMs &&
        health.failureKind === 'latency'
      )
        slow(h.host, health.latencyMs);
      else
        add(
          'P1',
          h.host,
          'health',
          `degraded: ${health.failure ?? 'unhealthy answer'}`,
          "a dependency is failing: check the database and Redis findings; the runbook's P1 steps.",
        );
    } else if (health?.latencyMs !== undefined && health.latencyMs > o.slowMs) {
      slow(h.host, health.latencyMs);
    }
    for (const result of h.smoke ?? []) {
      if (!result.ok)
        add(
          'P1',
          h.host,
          'smoke',
          `a real request fails: ${result.failure}`,
          "a core function is broken though /health may pass: a dependency's client that gave up (Redis, the database) comes back only when the app restarts — check the dependency, then runbook ops restart.",
        );
    }
    for (const [app, m] of Object.entries(h.logMetrics ?? {}))
      judgeLogs(app, m, (severity, why, next) => add(severity, h.host, 'logs', why, next));
    const f = h.facts;
    if (!f) continue;
    if (f.pm2Error)
      add(
        'P0',
        h.host,
        'pm2',
        f.pm2Error,
        'is pm2 installed and running for the deploy user? `pm2 status`, `pm2 resurrect`.',
      );
    const apps = o.app ? f.apps.filter((a) => isAppProcess(a.name, o.app as string)) : f.apps;
    if (o.app && !f.pm2Error && apps.length === 0)
      add(
        'P0',
        h.host,
        'pm2',
        `pm2 runs no app named ${o.app} (it runs ${f.apps.map((a) => a.name).join(', ') || 'nothing'})`,
        'start it (runbook ops start) or redeploy; `pm2 resurrect` restores a saved list.',
      );
    for (const a of apps) {
      if (a.status !== 'online')
        add(
          'P0',
          h.host,
          'pm2',
          `${a.name} (pm2 id ${a.pmId}) is ${a.status}`,
          `${logs(a.name)} for why; then runbook ops start / restart.`,
        );
      else if (a.restartsInWindow !== undefined && a.restartsInWindow > 0)
        add(
          'P1',
          h.host,
          'pm2',
          `${a.name} is crash-looping: ${a.restartsInWindow} restart(s) while diagnose watched (${a.restarts} in all), online only between crashes`,
          `${logs(a.name)}: the crash is in the error log; roll back if a deploy just happened.`,
        );
      else if (a.uptimeMs !== undefined && a.uptimeMs < 60_000 && a.restarts >= 3)
        add(
          'P3',
          h.host,
          'pm2',
          `${a.name} restarted ${Math.round(a.uptimeMs / 1000)} s ago (${a.restarts} restarts in all) and stayed up while diagnose watched`,
          `if nobody restarted it, ${logs(a.name)} says why it restarted.`,
        );
    }
    if (h.errorLines > 0)
      add(
        'P3',
        h.host,
        'logs',
        `${h.errorLines} line(s) in the last error log lines`,
        'read them in the summary (redacted) or the bundle.',
      );
    const m = f.memory;
    if (m.totalKb > 0 && m.availableKb / m.totalKb < 0.1)
      add(
        'P1',
        h.host,
        'memory',
        `memory nearly exhausted: ${Math.round(m.availableKb / 1024)} MiB available of ${Math.round(m.totalKb / 1024)} MiB`,
        "the runbook's P1 memory steps: find the process below (top by memory), `pm2 restart` it, check for a leak.",
      );
    else if (m.swapTotalKb > 0 && (m.swapTotalKb - m.swapFreeKb) / m.swapTotalKb > 0.5)
      add(
        'P2',
        h.host,
        'memory',
        `swapping: ${Math.round((m.swapTotalKb - m.swapFreeKb) / 1024)} MiB of swap in use`,
        'memory pressure slows everything: see top processes by memory.',
      );
    for (const d of f.disks) {
      if (d.usedPercent >= 95)
        add(
          'P1',
          h.host,
          'disk',
          `${d.mount} is ${d.usedPercent}% full (${Math.round(d.availableKb / 1024)} MiB free)`,
          '`pm2 flush`, remove old logs and releases, `du -sh /var/log/* /var/www/*`; a full disk stops writes.',
        );
      else if (d.usedPercent >= o.diskWarnPercent)
        add(
          'P3',
          h.host,
          'disk',
          `${d.mount} is ${d.usedPercent}% full (warning at ${o.diskWarnPercent}%)`,
          'plan a cleanup: log rotation (runbook ops logrotate), old releases.',
        );
    }
    if (f.load[0] > f.cpus * 2)
      add(
        'P2',
        h.host,
        'load',
        `load ${f.load[0]} on ${f.cpus} CPU(s)`,
        '`top`: what is using the CPUs? a runaway process, a traffic spike?',
      );
  }
  if (o.database) {
    const db = o.database;
    if (db.error)
      add(
        'P0',
        'database',
        'connect',
        `the database cannot be reached: ${db.error}`,
        '`systemctl status postgresql`, `pg_isready`, the connection limit and disk of the database host.',
      );
    for (const r of db.results) {
      if (r.task === 'connections') {
        const { total, max } = r.figures;
        if (max && total / max >= 0.9)
          add(
            'P1',
            'database',
            'connections',
            `${total} of max_connections ${max} in use`,
            'find idle-in-transaction sessions (below) and the pool size; `SELECT pg_terminate_backend(pid)` for stuck ones (runbook maintain --tasks long-queries --terminate true).',
          );
      }
      if (r.task === 'locks') {
        const { blocked } = r.figures;
        if (blocked.length > 0)
          add(
            'P1',
            'database',
            'locks',
            `${blocked.length} session(s) blocked by locks`,
            'see who blocks whom below; terminate the blocker if it is stuck (runbook maintain --tasks long-queries --terminate true).',
          );
      }
      if (r.task === 'long-queries') {
        const { count } = r.figures;
        if (count > 0)
          add(
            'P2',
            'database',
            'long-queries',
            `${count} query/transaction(s) running long`,
            'see them below; terminate one only if it is stuck.',
          );
      }
      if (r.task === 'slow-queries') {
        const top = (r.figures.installed ? r.figures.top : []).filter((q) => q.meanMs > o.slowMs);
        if (top.length)
          add(
            'P2',
            'database',
            'slow-queries',
            `${top.length} statement(s) average over ${o.slowMs} ms (pg_stat_statements)`,
            'add indexes or rewrite them: EXPLAIN ANALYZE the top one.',
          );
      }
    }
  }
  if (o.redis) {
    const r = o.redis;
    if (!r.reachable)
      add(
        'P1',
        'redis',
        'ping',
        `Redis ${r.error ?? 'did not answer PONG'}`,
        '`systemctl status redis-server`, `redis-cli ping`; the app runs degraded without its cache and sessions.',
      );
    else {
      if (r.maxMemoryBytes && r.usedMemoryBytes && r.usedMemoryBytes / r.maxMemoryBytes > 0.9)
        add(
          'P2',
          'redis',
          'memory',
          `Redis uses ${Math.round((100 * r.usedMemoryBytes) / r.maxMemoryBytes)}% of maxmemory`,
          'check the eviction policy and big keys (`redis-cli --bigkeys`).',
        );
      const slow = r.slowlog.filter((s) => s.durationMicros > 10_000);
      if (slow.length)
        add(
          'P3',
          'redis',
          'slowlog',
          `${slow.length} slow Redis command(s) (${slow.map((s) => s.command).join(', ')})`,
          'avoid KEYS and big range reads on the hot path.',
        );
    }
  }
  for (const e of o.external) {
    if (e.error || (e.status ?? 0) >= 500)
      add(
        'P1',
        e.url,
        'external',
        `not reachable: ${e.error ?? `status ${e.status}`}`,
        'the provider may be down: check its status page; switch to the fallback (runbook ops set-env, e.g. PLAID_ENABLED=false).',
      );
    else if ((e.latencyMs ?? 0) > o.slowMs)
      add(
        'P2',
        e.url,
        'external',
        `slow: ${e.latencyMs} ms`,
        'the provider is slow: expect timeouts in the calls that use it.',
      );
  }
  return findings.sort((a, b) => ORDER.indexOf(a.severity) - ORDER.indexOf(b.severity));
}

/** Error flood in an app's log: P1 at a line a second or more; a jump over its own earlier rate P2. */
export const FLOOD_PER_MINUTE = 60;
const JUMP_PER_MINUTE = 5;
const JUMP_FACTOR = 3;

function judgeLogs(
  app: string,
  m: LogMetrics,
  add: (severity: Severity, why: string, next: string) => void,
): void {
  const now = m.errorsPerMinuteNow ?? m.recentErrorsPerMinute;
  const top = m.topErrors[0] ? ` — most frequent: "${m.topErrors[0].message}" ×${m.topErrors[0].count}` : '';
  const how =
    m.errorsPerMinuteNow !== undefined
      ? ` (counted over ${Math.round((m.watchMs ?? 0) / 1000)} s)`
      : ' (last 5 minutes)';
  const logs = `\`pm2 logs ${app} --err --lines 100\``;
  const next = `${logs}: the app fails requests while /health may be green — a client that gave up (Redis, the database) comes back only with a restart (runbook ops restart) once its dependency is up.`;
  const flood = now !== undefined && now >= FLOOD_PER_MINUTE;
  // The newest line of a client that gave up says more than the most frequent (often its reconnect noise).
  const gaveUp = m.clientGaveUp ? `; newest client error: "${m.clientGaveUp}"` : '';
  if (flood) add('P1', `error flood: ${app} logs ${now} error lines a minute${how}${top}${gaveUp}`, next);
  else if (
    now !== undefined &&
    now >= JUMP_PER_MINUTE &&
    (m.earlierErrorsPerMinute === undefined || now >= JUMP_FACTOR * Math.max(m.earlierErrorsPerMinute, 1))
  )
    add(
      'P2',
      `error rate up: ${app} logs ${now} error lines a minute${how}${m.earlierErrorsPerMinute !== undefined ? `, ${m.earlierErrorsPerMinute} before` : ''}${top}`,
      next,
    );
  // Written in the last ten minutes: a dependency's client that gave up fails every request using it.
  if (m.clientGaveUp && (m.errorLogAgeSeconds ?? Infinity) <= 600 && !flood)
    add(
      'P1',
      `a dependency's client in ${app} has given up or lost its connection (error log written ${m.errorLogAgeSeconds} s ago): "${m.clientGaveUp}"`,
      `check the dependency it names (Redis, the database) is up, then restart the app so its client connects again (runbook ops restart); ${logs}.`,
    );
  const r = m.requests;
  if (r && r.count >= 10 && r.serverErrors / r.count >= 0.2)
    add(
      'P2',
      `${r.serverErrors} of the last ${r.count} requests in ${app}'s log answered 5xx${r.averageMs !== undefined ? ` (average ${r.averageMs} ms)` : ''}`,
      next,
    );
}

export function overallSeverity(findings: Finding[]): Severity | 'OK' {
  return findings[0]?.severity ?? 'OK';
}
