/**
 * pg_dump, pg_restore and psql, run where the action runs. Which installation is used, and whether
 * it can talk to this server: pg_dump refuses a server newer than itself, and pg_restore cannot read
 * an archive written by a newer pg_dump, so the major versions are compared before anything starts
 * and a mismatch is refused naming both versions and what to install.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError } from '../errors.js';

export type ToolName = 'pg_dump' | 'pg_restore' | 'psql';

export interface ClientTools {
  /** Directory of the tools, '' for the ones on PATH. */
  binDir: string;
  version: string;
  major: number;
  path(tool: ToolName): string;
}

/** `pg_dump (PostgreSQL) 15.18 (Debian …)` → 15.18. */
export function parseToolVersion(text: string): { version: string; major: number } | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) return undefined;
  const major = Number(match[1]);
  return { version: match[2] === undefined ? String(major) : `${major}.${match[2]}`, major };
}

function probe(binDir: string): ClientTools | undefined {
  const path = (tool: ToolName) => (binDir === '' ? tool : join(binDir, tool));
  try {
    const parsed = parseToolVersion(execFileSync(path('pg_dump'), ['--version'], { encoding: 'utf8' }));
    return parsed ? { binDir, ...parsed, path } : undefined;
  } catch {
    return undefined;
  }
}

/** Debian/Ubuntu (postgresql-client-N) and RHEL (postgresqlN) keep one directory per major version. */
function installedDirs(): string[] {
  const dirs: string[] = [];
  for (const [root, pattern] of [
    ['/usr/lib/postgresql', /^\d+$/],
    ['/usr', /^pgsql-\d+$/],
  ] as const) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root)) {
      if (pattern.test(entry) && existsSync(join(root, entry, 'bin', 'pg_dump')))
        dirs.push(join(root, entry, 'bin'));
    }
  }
  return dirs;
}

/**
 * The client tools to use for a server (and archive) of at least `needMajor`: those in `binDir`
 * when given; otherwise the ones on PATH when new enough, else the oldest installed version that is.
 */
export function findClientTools(needMajor: number, why: string, binDir?: string): ClientTools {
  const candidates = binDir !== undefined ? [binDir] : ['', ...installedDirs()];
  const found = candidates.map(probe).filter((t): t is ClientTools => t !== undefined);
  if (found.length === 0) {
    throw new OperationError(
      `No PostgreSQL client tools (pg_dump, pg_restore, psql) found ${binDir !== undefined ? `in pg-bin-dir ${binDir}` : 'on PATH or under /usr/lib/postgresql'}.`,
      `install them where the action runs: \`sudo apt-get install -y postgresql-client-${needMajor}\` (from the PGDG apt repository, https://www.postgresql.org/download/linux/ubuntu/), or set pg-bin-dir.`,
    );
  }
  const usable = found.filter((t) => t.major >= needMajor).sort((a, b) => a.major - b.major);
  const onPath = usable.find((t) => t.binDir === '');
  const chosen = onPath ?? usable[0];
  if (chosen) return chosen;
  const newest = found.sort((a, b) => b.major - a.major)[0] as ClientTools;
  throw new OperationError(
    `The PostgreSQL client tools here are version ${newest.version}${newest.binDir ? ` (${newest.binDir})` : ''}, older than ${why} (major ${needMajor}): pg_dump refuses to dump a newer server and pg_restore cannot read a newer archive. Nothing was done.`,
    `install postgresql-client-${needMajor} (or newer) where the action runs — on a GitHub runner: \`sudo apt-get install -y postgresql-client-${needMajor}\` after adding the PGDG apt repository (https://www.postgresql.org/download/linux/ubuntu/) — or set pg-bin-dir to its bin directory.`,
  );
}

export interface ToolRun {
  child: ChildProcess;
  /** Resolves when the tool exits; rejects with its stderr tail when it fails. */
  done: Promise<void>;
}

const STDERR_KEEP = 8 * 1024;

export class ToolFailed extends OperationError {
  constructor(
    readonly tool: string,
    readonly detail: string,
    hint: string,
  ) {
    super(`${tool} failed: ${detail}`, hint);
  }
}

/**
 * Starts a tool with its own environment (the password in PGPASSWORD). stderr is kept (its tail
 * goes into the error); stdout is what the caller wires. A signal aborts it with SIGTERM.
 */
export function startTool(
  tools: ClientTools,
  tool: ToolName,
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    stdin?: 'ignore' | 'pipe';
    stdout?: 'ignore' | 'pipe';
    signal?: AbortSignal;
    hint: string;
  },
): ToolRun {
  const child = spawn(tools.path(tool), args, {
    env: options.env,
    stdio: [options.stdin ?? 'ignore', options.stdout ?? 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_KEEP);
  });
  const abort = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', abort, { once: true });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) =>
      reject(new ToolFailed(tool, `could not start it (${error.message})`, options.hint)),
    );
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', abort);
      if (code === 0) return resolve();
      const tail = stderr.trim().split('\n').slice(-6).join('\n');
      const how = signal ? `killed by ${signal}` : `exit code ${code}`;
      reject(new ToolFailed(tool, `${how}${tail ? `: ${tail}` : ''}`, options.hint));
    });
  });
  done.catch(() => undefined); // the caller awaits it; a rejection before then is not "unhandled"
  return { child, done };
}

/** Runs a tool to its end and returns stdout (small outputs only: versions, table of contents). */
export async function runTool(
  tools: ClientTools,
  tool: ToolName,
  args: string[],
  options: { env: NodeJS.ProcessEnv; signal?: AbortSignal; hint: string },
): Promise<string> {
  const run = startTool(tools, tool, args, { ...options, stdout: 'pipe' });
  const chunks: Buffer[] = [];
  run.child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  await run.done;
  return Buffer.concat(chunks).toString();
}
