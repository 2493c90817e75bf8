/**
 * The runbook's Performance Metrics read from the app's own recent logs, for what `/health` hides:
 * how fast the error log grows now (counted over a short watch on the host, so logs without
 * timestamps count too), against the app's own earlier rate where lines carry timestamps; the request
 * rate, response time and error statuses where the out log has one line per request (morgan's
 * `METHOD /path status N ms` shapes); and the most frequent error messages. Pure but for the watch.
 */
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';

export interface LogMetrics {
  /** Error lines appended while diagnose watched, per minute; undefined when not watched. */
  errorsPerMinuteNow?: number;
  watchMs?: number;
  /** From timestamped error lines: the last 5 minutes, and the minutes before them in the tail. */
  recentErrorsPerMinute?: number;
  earlierErrorsPerMinute?: number;
  requests?: {
    count: number;
    /** Per minute, when the lines carry timestamps. */
    perMinute?: number;
    averageMs?: number;
    serverErrors: number;
    clientErrors: number;
  };
  /** The most frequent error messages in the tail (numbers and ids folded), with their counts. */
  topErrors: { message: string; count: number }[];
  /** Seconds since the error log was last written. */
  errorLogAgeSeconds?: number;
  /** A recent error line saying a dependency's client gave up (redacted). */
  clientGaveUp?: string;
}

const RECENT_MS = 5 * 60_000;
const TOP = 3;

/** Time of a log line: pm2's `--time` prefix or any ISO 8601 stamp, pino's `"time":<ms>`, or the common log format. */
export function lineTime(line: string): number | undefined {
  const iso = /(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)/.exec(line);
  if (iso) {
    const text = (iso[1] as string).replace(' ', 'T');
    const t = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
    if (!Number.isNaN(t)) return t;
  }
  const pino = /"time":\s*(\d{13})\b/.exec(line);
  if (pino) return Number(pino[1]);
  const clf = /\[(\d\d)\/(\w{3})\/(\d{4}):(\d\d:\d\d:\d\d) ([+-]\d{4})\]/.exec(line);
  if (clf) {
    const t = Date.parse(`${clf[1]} ${clf[2]} ${clf[3]} ${clf[4]} ${clf[5]}`);
    if (!Number.isNaN(t)) return t;
  }
  return undefined;
}

/** A message with what varies between occurrences folded away, so that repeats count together. */
export function foldMessage(line: string): string {
  return line
    .replace(/^\S*\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S*:?\s*/, '')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>')
    .replace(/\d+(\.\d+)?/g, 'N')
    .trim()
    .slice(0, 160);
}

const REQUEST =
  /\b(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\/\S*) (?:HTTP\/[\d.]+" )?(\d{3})\b(?:.*?(\d+(?:\.\d+)?) ?ms)?/;

function perMinute(count: number, ms: number): number {
  return Math.round((count / Math.max(ms, 1)) * 60_000 * 10) / 10;
}

export function logMetrics(errLines: string[], outLines: string[], now: Date): LogMetrics {
  const metrics: LogMetrics = { topErrors: [] };
  const cutoff = now.getTime() - RECENT_MS;
  const times = errLines.map(lineTime).filter((t): t is number => t !== undefined);
  if (times.length >= Math.max(3, errLines.length / 2)) {
    const recent = times.filter((t) => t >= cutoff).length;
    const earlier = times.filter((t) => t < cutoff);
    metrics.recentErrorsPerMinute = perMinute(recent, RECENT_MS);
    const first = Math.min(...times);
    if (earlier.length > 0 && cutoff - first > 60_000)
      metrics.earlierErrorsPerMinute = perMinute(earlier.length, cutoff - first);
  }
  const counts = new Map<string, number>();
  for (const line of errLines) {
    const message = foldMessage(line);
    if (message !== '' && !/^at\s/.test(message)) counts.set(message, (counts.get(message) ?? 0) + 1);
  }
  metrics.topErrors = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP)
    .map(([message, count]) => ({ message, count }));

  const requests = outLines.map((line) => ({ m: REQUEST.exec(line), t: lineTime(line) })).filter((r) => r.m);
  if (requests.length > 0) {
    const ms = requests.map((r) => Number(r.m?.[4])).filter((n) => Number.isFinite(n));
    const status = requests.map((r) => Number(r.m?.[3]));
    const stamped = requests.map((r) => r.t).filter((t): t is number => t !== undefined);
    metrics.requests = {
      count: requests.length,
      serverErrors: status.filter((s) => s >= 500).length,
      clientErrors: status.filter((s) => s >= 400 && s < 500).length,
      ...(ms.length ? { averageMs: Math.round((ms.reduce((a, b) => a + b, 0) / ms.length) * 10) / 10 } : {}),
      ...(stamped.length === requests.length && stamped.length > 1
        ? { perMinute: perMinute(stamped.length, Math.max(...stamped) - Math.min(...stamped)) }
        : {}),
    };
  }
  return metrics;
}

/** What the host says of each log over the watch: lines appended, and how long ago it was last written. */
export interface LogWatch {
  grown: Record<string, number>;
  /** Seconds since each file was last written (its mtime, by the host's clock). */
  ageSeconds: Record<string, number>;
}

/**
 * Lines appended to each log while diagnose waits `windowMs` on the host (one command; `wc -l`
 * counts lines whether or not they carry a time), and each file's age. Never reads the lines.
 */
export async function watchLogs(session: SshSession, paths: string[], windowMs: number): Promise<LogWatch> {
  const watch: LogWatch = { grown: {}, ageSeconds: {} };
  if (paths.length === 0) return watch;
  const { stdout } = await session.run(
    'watch the error log grow',
    sh`count() { for f in "$@"; do printf '%s\\t%s\\n' "$(wc -l < "$f" 2>/dev/null || echo 0)" "$f"; done; }
before=$(count ${paths}); sleep ${(Math.max(windowMs, 0) / 1000).toFixed(1)}; after=$(count ${paths}); now=$(date +%s)
printf '%s\\n' "$before" | sed 's/^/b\\t/'; printf '%s\\n' "$after" | sed 's/^/a\\t/'
for f in ${paths}; do printf 'm\\t%s\\t%s\\n' "$(( now - $(stat -c %Y -- "$f" 2>/dev/null || echo "$now") ))" "$f"; done`,
    { timeoutMs: windowMs + 30_000 },
  );
  const before = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const [kind, n, ...path] = line.split('\t');
    const file = path.join('\t');
    if (kind === 'b') before.set(file, Number(n));
    else if (kind === 'a' && windowMs > 0)
      watch.grown[file] = Math.max(0, Number(n) - (before.get(file) ?? Number(n)));
    else if (kind === 'm') watch.ageSeconds[file] = Number(n);
  }
  return watch;
}

/**
 * Errors of a dependency's client that has given up or lost its connection, as the common Node
 * clients word them (node-redis, ioredis, pg, mongoose): seen in recent errors, `/health` may be lying.
 */
const CLIENT_GAVE_UP =
  /The client is closed|ClientClosedError|Connection is closed|Reached the max retries per request|Connection terminated unexpectedly|Client has encountered a connection error|connect ECONNREFUSED|Socket closed unexpectedly|MongoNotConnectedError|sorry, too many clients/i;

/** The first recent error line that says a dependency's client gave up, or undefined. */
export function clientGaveUp(errLines: string[]): string | undefined {
  return [...errLines].reverse().find((line) => CLIENT_GAVE_UP.test(line));
}
