/**
 * The runbook's Log Management: the last N lines, the lines of a time window, the lines matching a
 * pattern with their count ("how many 'proof generation failed' in the last hour"), from each host's
 * pm2 logs — redacted (the inputs' secrets, the env file's secret-looking values, the shapes of
 * tokens and passwords) and written as files for actions/upload-artifact. Read-only. The pattern is
 * an argument of `grep -E -e`, quoted: never run.
 */
import { isAppProcess } from '../releases/traffic.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Log } from '../log.js';
import { ConfigurationError, OperationError } from '../errors.js';
import { Redactor } from '../redact/redactor.js';
import { maskEnvValues, maskPm2EnvValues, redactShapes } from '../diagnose/redaction.js';
import { readHostFacts } from '../diagnose/host-facts.js';
import type { SshOptions } from '../ssh/connect.js';
import { CONNECT_PARALLEL } from '../fleet/hosts.js';
import { onEveryHost } from '../fleet/each-host.js';
import { sh } from '../ssh/shell.js';
import type { SshTarget } from '../ssh/target.js';

export interface LogsOptions {
  hosts: SshTarget[];
  ssh: SshOptions;
  app: string;
  envFile?: string;
  kind: 'err' | 'out' | 'both';
  lines: number;
  pattern?: string;
  /** Only lines stamped at most this long ago (pm2 started with --time / log_date_format). */
  sinceMs?: number;
  outputDir: string;
  secrets: string[];
}

export interface LogExtract {
  host: string;
  kind: 'err' | 'out';
  path: string;
  /** Lines that matched (the pattern and window) in the part of the log read. */
  matched: number;
  /** Lines kept in the file (the last `lines` of those). */
  kept: number;
  file: string;
  note?: string;
}

/** Reads at most this many of the newest lines to search: a log can be gigabytes. */
const SCAN_LINES = 200_000;
const STAMP = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)/;

export async function fetchLogs(
  options: LogsOptions,
  deps: { log: Log; now?: () => Date },
): Promise<LogExtract[]> {
  const redactor = new Redactor();
  const mask = (v: string) => {
    redactor.add(v);
    deps.log.mask(v);
  };
  options.secrets.forEach(mask);
  const since =
    options.sinceMs === undefined
      ? undefined
      : (deps.now ?? (() => new Date()))().getTime() - options.sinceMs;
  mkdirSync(options.outputDir, { recursive: true });
  const perHost = await onEveryHost(
    options.hosts,
    options.ssh,
    { log: deps.log },
    CONNECT_PARALLEL,
    async (session, { name: host }) => {
      const found: LogExtract[] = [];
      if (options.envFile) await maskEnvValues(session, options.envFile, mask);
      await maskPm2EnvValues(session, options.app, mask);
      const facts = await readHostFacts(session);
      // traffic: nginx runs the app as <app>-blue/-green: the slot started last is read.
      const app =
        facts.apps.find((a) => a.name === options.app) ??
        facts.apps
          .filter((a) => isAppProcess(a.name, options.app) && a.status === 'online')
          .sort((a, b) => (a.uptimeMs ?? 0) - (b.uptimeMs ?? 0))[0];
      if (!app)
        throw new OperationError(
          `pm2 runs no app named ${options.app}${facts.pm2Error ? ` (${facts.pm2Error})` : ` (it runs ${facts.apps.map((a) => a.name).join(', ') || 'nothing'})`}.`,
          'check app-name: it is the name pm2 lists the app under (`pm2 ls` on the host).',
        );
      for (const kind of options.kind === 'both' ? (['err', 'out'] as const) : [options.kind]) {
        const path = kind === 'err' ? app.errLog : app.outLog;
        if (!path) continue;
        const scan = options.pattern || since !== undefined ? SCAN_LINES : options.lines;
        // grep: 0 matched, 1 none; 2 is its own error (an invalid pattern), never read as "no match".
        const { stdout, code, stderr } = await session.run(
          'read the log',
          options.pattern
            ? sh`tail -n ${scan} -- ${path} 2>/dev/null | grep -E -e ${options.pattern}`
            : sh`tail -n ${scan} -- ${path} 2>/dev/null; exit 0`,
          { timeoutMs: 120_000, okCodes: [1, 2] },
        );
        if (code === 2)
          throw new ConfigurationError(
            'pattern',
            `${JSON.stringify(options.pattern)} is not an extended regular expression (grep -E: ${
              stderr
                .trim()
                .replace(/^grep: /, '')
                .split('\n')[0]
            }); escape ( ) [ ] { } . * + ? | ^ $ with a backslash to match them as text.`,
          );
        let lines = stdout.split('\n').filter((l) => l !== '');
        let note: string | undefined;
        if (since !== undefined) {
          const stamped = lines.filter((l) => STAMP.test(l));
          if (lines.length && stamped.length === 0)
            note =
              'the lines carry no timestamps, so the time window could not apply (start the app with `pm2 start … --time`)';
          else
            lines = stamped.filter((l) => Date.parse((STAMP.exec(l)?.[1] ?? '').replace(' ', 'T')) >= since);
        }
        const kept = lines.slice(-options.lines).map((l) => redactShapes(redactor.redact(l)));
        const file = join(
          options.outputDir,
          `${host.replace(/[^A-Za-z0-9@._-]/g, '_')}-${options.app}-${kind}.log`,
        );
        writeFileSync(file, kept.join('\n') + (kept.length ? '\n' : ''));
        found.push({
          host,
          kind,
          path,
          matched: lines.length,
          kept: kept.length,
          file,
          ...(note ? { note } : {}),
        });
      }
      return found;
    },
  );
  return perHost.flat();
}
