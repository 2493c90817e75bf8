/**
 * pm2 on the host, over SSH. pm2 resolves a `current` symlink when an app starts, so a plain
 * `pm2 restart` keeps running the old release (pm2#1663); apps are therefore started as
 * `<app-dir>/current/<script>` with `--cwd <app-dir>/current`, which pm2 keeps as text and
 * re-resolves at every (re)start. `pm2 jlist` carries each process's whole environment, secrets
 * included (pm2#5190): only the fields below are ever kept, so no env value can reach a log.
 */
import { PROCESS_VARIABLES } from '../envfile/envfile.js';
import { OperationError } from '../errors.js';
import type { SshSession } from '../ssh/session.js';
import { sh, type ShellCommand } from '../ssh/shell.js';
import type { AppEntry } from './entry.js';
import type { AppPaths } from './layout.js';

export interface Pm2Process {
  name: string;
  pmId: number;
  pid: number;
  status: string;
  restarts: number;
  execMode: 'cluster' | 'fork';
  execPath?: string;
  cwd?: string;
  nodeArgs: string[];
  args: string[];
  /** When the running process started (ms since the epoch, the host's clock). */
  startedAt?: number;
  /** Where pm2 writes this process's pid at each start (pm_pid_path). */
  pidFile?: string;
}

export interface Pm2AppOptions {
  name: string;
  /** The entry script given as app-script; undefined: each release's own (see entry.ts). */
  script?: string;
  execMode: 'cluster' | 'fork';
  instances: string;
  waitReady: boolean;
  listenTimeoutMs: number;
  killTimeoutMs: number;
}

/** Exports each `NAME=<base64 value>` line of stdin: values reach pm2 without a command line (`ps`). */
const EXPORT_LINES = sh`while IFS= read -r line; do
  [ -n "$line" ] || continue
  k=\${line%%=*}
  v=$(printf '%s' "\${line#*=}" | base64 -d) || exit 1
  export "$k=$v"
done`;

/**
 * Runs on the host in the release: prints the ecosystem app's `env` as `NAME=<base64>` lines, as
 * EXPORT_LINES reads them — without the names that change how the pm2 command itself runs (argv[3],
 * changesHowProgramsRun's pattern): those reach the app from the ecosystem file when pm2 starts it.
 */
const ECOSYSTEM_ENV = `const path=require('path'),url=require('url');const [file,name,skip]=process.argv.slice(1);const unsafe=new RegExp(skip);
(file.endsWith('.json')?Promise.resolve(JSON.parse(require('fs').readFileSync(file,'utf8'))):import(url.pathToFileURL(path.resolve(file)).href).then(m=>m.default??m)).then(c=>{let apps=Array.isArray(c)?c:(c&&c.apps)||[];if(!Array.isArray(apps))apps=[apps];
const a=apps.find(x=>x&&x.name===name)||{};for(const [k,v] of Object.entries(a.env||{}))if(/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)&&!unsafe.test(k)&&v!==undefined&&v!==null)console.log(k+'='+Buffer.from(String(v)).toString('base64'));})
.catch(e=>{console.error('the ecosystem file could not be loaded: '+String(e&&e.message||e).split('\\n')[0]);process.exit(1)});`;

/** The JSON array in `pm2 jlist` output, wherever a banner or warnings put it. */
export function parseJlist(output: string): Pm2Process[] {
  let parsed: unknown;
  for (let at = output.indexOf('['); at !== -1; at = output.indexOf('[', at + 1)) {
    try {
      parsed = JSON.parse(output.slice(at).trim());
      break;
    } catch {
      // not the array yet: a banner line with a bracket
    }
  }
  if (!Array.isArray(parsed)) throw new Error('pm2 jlist printed no JSON list');
  return parsed.map((raw) => {
    const p = raw as { name?: unknown; pm_id?: unknown; pid?: unknown; pm2_env?: Record<string, unknown> };
    const env = p.pm2_env ?? {};
    return {
      name: String(p.name ?? ''),
      pmId: Number(p.pm_id ?? -1),
      pid: Number(p.pid ?? 0),
      status: String(env.status ?? 'unknown'),
      restarts: Number(env.restart_time ?? 0),
      execMode: env.exec_mode === 'cluster_mode' ? 'cluster' : 'fork',
      ...(typeof env.pm_exec_path === 'string' ? { execPath: env.pm_exec_path } : {}),
      ...(typeof env.pm_cwd === 'string' ? { cwd: env.pm_cwd } : {}),
      nodeArgs: strings(env.node_args),
      args: strings(env.args),
      ...(typeof env.pm_uptime === 'number' ? { startedAt: env.pm_uptime } : {}),
      ...(typeof env.pm_pid_path === 'string' ? { pidFile: env.pm_pid_path } : {}),
    };
  });
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : typeof value === 'string' && value ? [value] : [];
}

/**
 * Whether the deploy user's pm2 daemon runs, read from its pid file without running pm2 — any pm2
 * command starts a new, empty daemon, which would hide that the one holding the app died.
 */
export async function pm2DaemonRunning(session: SshSession): Promise<{ running: boolean; home: string }> {
  const { stdout } = await session.run(
    "is pm2's daemon running",
    sh`home=\${PM2_HOME:-$HOME/.pm2}; if [ -f "$home/pm2.pid" ] && kill -0 "$(cat "$home/pm2.pid")" 2>/dev/null; then echo "running $home"; else echo "stopped $home"; fi`,
  );
  const [state, ...home] = stdout.trim().split(' ');
  return { running: state === 'running', home: home.join(' ') };
}

export async function pm2List(session: SshSession): Promise<Pm2Process[]> {
  const { stdout } = await session.run('pm2 jlist', sh`PM2_DISCRETE_MODE=true pm2 jlist`);
  return parseJlist(stdout);
}

/**
 * The app's processes as they run after a fork-mode restart, read without starting pm2's CLI (~0.3 s
 * of CPU on the host, paid by every host of every batch): pm2 writes a process's pid to its pid file
 * (pm_pid_path) at each start and removes the file when it stops, and a fork-mode restart keeps the
 * pm2 id and so the file; /proc says whether that pid lives and when it started. pm2's own view
 * (`pm2 jlist`) is read instead whenever the shortcut cannot say the same: no list from before the
 * restart, cluster mode (a reload swaps ids and files), a pid file missing or its process gone.
 */
export async function processesAfterRestart(
  session: SshSession,
  name: string,
  before: Pm2Process[] | undefined,
): Promise<Pm2Process[]> {
  const mine = (before ?? []).filter((p) => p.name === name);
  const files = mine.map((p) => p.pidFile);
  if (mine.length === 0 || mine.some((p) => p.execMode !== 'fork') || files.some((f) => !f))
    return pm2List(session);
  const running = await readPidFiles(session, files as string[]);
  if (!running || running.some((r) => r === undefined)) return pm2List(session);
  // The other apps of the list are kept as pm2 listed them: nothing here touched them.
  let i = 0;
  return (before as Pm2Process[]).map((p) => {
    if (p.name !== name) return p;
    const { pid, startedAt } = running[i++] as LivePid;
    return { ...p, pid, status: 'online', startedAt };
  });
}

export interface LivePid {
  pid: number;
  /** When it started (ms since the epoch, the host's clock). */
  startedAt: number;
}

/**
 * The live process behind each of pm2's pid files, from /proc: one shell command, no pm2 start-up.
 * A file missing or naming a dead pid is undefined; the whole answer is undefined when the host's
 * clock could not be read.
 */
export async function readPidFiles(
  session: SshSession,
  files: string[],
): Promise<(LivePid | undefined)[] | undefined> {
  const { stdout } = await session.run(
    "read the app's pids from pm2's pid files",
    sh`read -r up _ </proc/uptime; echo "$(getconf CLK_TCK) $(date +%s%3N) $up"
for f in ${files}; do
  pid=; read -r pid 2>/dev/null < "$f" || :
  st=; [ -n "$pid" ] && read -r st 2>/dev/null < "/proc/$pid/stat"
  # Past the last ") " (the command name may hold both), field 20 is the start time.
  st=\${st##*") "}; set -f; set -- $st; set +f
  if [ -n "\${20:-}" ]; then printf '%s %s\\n' "$pid" "\${20}"; else echo -; fi
done`,
  );
  const [clock = '', ...rows] = stdout.trim().split('\n');
  const [hz = 0, now = 0, uptime = 0] = clock.split(' ').map(Number);
  if (!(hz > 0 && now > 0 && uptime > 0) || rows.length !== files.length) return undefined;
  return rows.map((row) => {
    const [pid = 0, ticks = -1] = row.split(' ').map(Number);
    if (!(pid > 0 && ticks >= 0)) return undefined;
    // /proc's start time counts clock ticks since boot: placed on the host's clock through its uptime.
    return { pid, startedAt: Math.round(now - uptime * 1000 + (ticks * 1000) / hz) };
  });
}

/**
 * The live processes pm2 runs under `name`, read from its pid files (`$PM2_HOME/pids/<name>-<id>.pid`)
 * and /proc — one shell command, no pm2 start-up: each pid that lives, and its working directory.
 * A rollback through nginx asks this before moving traffic to a slot (pm2's own list is read after).
 */
export async function readAppPids(
  session: SshSession,
  name: string,
): Promise<{ pid: number; cwd: string }[]> {
  const { stdout } = await session.run(`read ${name}'s pids from pm2's pid files`, appPidsCommand(name));
  return parseAppPids(stdout);
}

/** Each live pid of the pm2 app `name` and its working directory, from pm2's pid files (read-only). */
export function appPidsCommand(name: string): ShellCommand {
  return sh`home=\${PM2_HOME:-$HOME/.pm2}; n=${name}
for f in "$home"/pids/"$n"-*.pid; do
  [ -f "$f" ] || continue
  id=\${f##*/}; id=\${id#"$n"-}; id=\${id%.pid}
  case $id in ''|*[!0-9]*) continue;; esac
  pid=; read -r pid 2>/dev/null < "$f" || :
  case $pid in ''|*[!0-9]*) continue;; esac
  if [ -d "/proc/$pid" ]; then printf '%s\t%s\n' "$pid" "$(readlink "/proc/$pid/cwd" 2>/dev/null)"; fi
done`;
}

export function parseAppPids(stdout: string): { pid: number; cwd: string }[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid = '0', cwd = ''] = line.split('\t');
      return { pid: Number(pid), cwd };
    });
}

/**
 * Makes pm2 run whatever `current` points at now: reload (cluster, zero-downtime) or restart
 * (fork) when the app already runs from `<app-dir>/current`, otherwise (first deploy, or an app
 * started from elsewhere, such as the legacy layout) delete and start it from there.
 */
export async function runCurrentRelease(
  session: SshSession,
  paths: AppPaths,
  app: Pm2AppOptions,
  entry: AppEntry,
  env: Record<string, string>,
  /** The process list if it was just read (saves a pm2 start-up, ~0.3 s, on the way to the switch). */
  known?: Pm2Process[],
): Promise<'started' | 'reloaded' | 'restarted'> {
  const processes = (known ?? (await pm2List(session))).filter((p) => p.name === app.name);
  const script = `${paths.current}/${entry.script}`;
  const same = (a: string[], b: string[]) => a.join('\0') === b.join('\0');
  const inPlace =
    processes.length > 0 &&
    processes.every(
      (p) =>
        p.execPath === script &&
        p.cwd === paths.current &&
        same(p.nodeArgs, entry.nodeArgs) &&
        same(p.args, entry.args),
    );
  if (inPlace) {
    const mode = processes[0]?.execMode ?? app.execMode;
    const verb = mode === 'cluster' ? 'reload' : 'restart';
    await session.run(
      `pm2 ${verb}`,
      withAppEnv(paths.current, entry, env, sh`pm2 ${verb} ${app.name} --update-env`),
      { timeoutMs: 120_000 },
    );
    return mode === 'cluster' ? 'reloaded' : 'restarted';
  }
  if (processes.length > 0) {
    // An app pm2 ran from outside app-dir (the suite's first deploy over a running app) is kept as
    // pm2 would restart it, so that a failed first deploy can start it again (see startReplaced).
    const foreign = processes.every((p) => !p.cwd?.startsWith(`${paths.root}/`) && p.cwd !== paths.root);
    await session.run(
      'pm2 delete (started from elsewhere)',
      foreign
        ? sh`PM2_DISCRETE_MODE=true pm2 jlist | node -e ${SAVE_DEFINITION} ${app.name} ${replacedFile(paths)} && pm2 delete ${app.name}`
        : sh`pm2 delete ${app.name}`,
    );
  }
  await startApp(session, paths.current, app, entry, env);
  return 'started';
}

/**
 * `env 'NAME=value' <command>` in `dir`: values reach pm2's environment (and with --update-env the
 * app's) quoted; an ecosystem app's own env is read and exported on the host first (never on a
 * command line).
 */
function withAppEnv(
  dir: string,
  entry: AppEntry,
  env: Record<string, string>,
  command: ShellCommand,
  /** Exported from stdin (EXPORT_LINES), never on a command line; they win over the entry's own. */
  secret: Record<string, string> = {},
): ShellCommand {
  const all = Object.fromEntries(Object.entries({ ...entry.env, ...env }).filter(([n]) => !(n in secret)));
  const plain = sh`env ${Object.entries(all).map(([n, v]) => `${n}=${v}`)} ${command}`;
  const ecosystem = entry.ecosystem;
  const secrets = Object.keys(secret).length > 0;
  if (!ecosystem)
    return secrets
      ? sh`${EXPORT_LINES}
${plain}`
      : plain;
  return sh`lines=$(cd -- ${dir} && node -e ${ECOSYSTEM_ENV} ${ecosystem.file} ${ecosystem.app} ${PROCESS_VARIABLES.source} </dev/null) || exit 1
{ printf '%s\n' "$lines"; ${secrets ? sh`cat` : sh`true`}; } | {
${EXPORT_LINES}
${plain}
}`;
}

/** `NAME=<base64 value>` lines, as EXPORT_LINES reads them from stdin. */
function exportLines(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}=${Buffer.from(value, 'utf8').toString('base64')}\n`)
    .join('');
}

/** `pm2 start <dir>/<script>` named `app.name`, in `dir`, with the entry's flags and `env` on top of its own. */
export async function startApp(
  session: SshSession,
  dir: string,
  app: Pm2AppOptions,
  entry: AppEntry,
  env: Record<string, string>,
  /** Values the process must hold (a rotated secret): through stdin, never on a command line (`ps`). */
  secret: Record<string, string> = {},
): Promise<void> {
  const options = [
    '--name',
    app.name,
    '--cwd',
    dir,
    '--update-env',
    '--listen-timeout',
    String(app.listenTimeoutMs),
    '--kill-timeout',
    String(app.killTimeoutMs),
    ...(app.execMode === 'cluster' ? ['-i', app.instances] : []),
    ...(app.waitReady ? ['--wait-ready'] : []),
    ...entryStartOptions(entry),
  ];
  await session.run(
    'pm2 start',
    sh`cd -- ${dir} && ${withAppEnv(dir, entry, env, sh`pm2 start ${`${dir}/${entry.script}`} ${options}`, secret)}`,
    { timeoutMs: 120_000, ...(Object.keys(secret).length > 0 ? { stdin: exportLines(secret) } : {}) },
  );
}

/**
 * Runs on the host: from `pm2 jlist` on stdin, writes the named app as a pm2 app declaration (script,
 * cwd, args, node_args, mode, instances and its environment) to the file, readable by the owner only.
 * Nothing is printed: the environment holds the app's secrets, as pm2's own dump file does.
 */
const SAVE_DEFINITION = `const fs=require('fs');const [name,file]=process.argv.slice(1);let t='';process.stdin.on('data',d=>t+=d).on('end',()=>{
const ps=JSON.parse(t.slice(t.indexOf('['))).filter(p=>p.name===name);if(!ps.length)return;const e=ps[0].pm2_env||{};
const app={name,script:e.pm_exec_path,cwd:e.pm_cwd,args:e.args||[],node_args:e.node_args||[],exec_mode:e.exec_mode==='cluster_mode'?'cluster':'fork',instances:ps.length,env:e.env||{}};
fs.mkdirSync(require('path').dirname(file),{recursive:true});fs.writeFileSync(file+'.tmp',JSON.stringify({apps:[app]}),{mode:0o600});fs.renameSync(file+'.tmp',file);})`;

/** Where the app pm2 ran from elsewhere is kept until the first deploy over it succeeds. */
export function replacedFile(paths: AppPaths): string {
  return `${paths.meta}/replaced-pm2-app.json`;
}

/**
 * A failed first deploy: the app pm2 ran before it, from elsewhere, starts again as it was declared.
 * Returns false when there was none (nothing ran before: nothing is started).
 */
export async function startReplaced(session: SshSession, paths: AppPaths): Promise<boolean> {
  const file = replacedFile(paths);
  const { stdout } = await session.run(
    'start what ran before',
    sh`if [ -f ${file} ]; then pm2 start ${file} >/dev/null && rm -f -- ${file} && echo started; fi`,
    { timeoutMs: 120_000 },
  );
  return stdout.trim() === 'started';
}

/** The deploy over it succeeded: what ran before is not needed any more (its file holds its environment). */
export async function forgetReplaced(session: SshSession, paths: AppPaths): Promise<void> {
  await session.run('forget what ran before', sh`rm -f -- ${replacedFile(paths)}`);
}

/** The `pm2 start` words an entry adds after the other options: node's flags, then the script's arguments. */
export function entryStartOptions(entry: AppEntry): string[] {
  return [
    // pm2 splits --node-args on spaces, as a shell would.
    ...(entry.nodeArgs.length ? ['--node-args', entry.nodeArgs.join(' ')] : []),
    ...(entry.args.length ? ['--', ...entry.args] : []),
  ];
}

/** Stops and forgets the app (used when a first deploy fails and there is nothing to go back to). */
export async function deleteApp(session: SshSession, name: string): Promise<void> {
  await session.run('pm2 delete', sh`pm2 delete ${name}`, { okCodes: [1] });
}

/**
 * Crash-loop detection: a crash-looping app shows `online` between crashes, so the window asks
 * whether the processes that answered healthy are still the ones running: pm2 gives a restarted
 * process a new pid. Reading `/proc` for those pids costs a shell command, not a pm2 start-up
 * (~0.3 s of CPU); pm2 is asked only when one is gone, to say how often it restarted.
 */
export async function checkStable(
  session: SshSession,
  name: string,
  baseline: Pm2Process[],
  windowMs: number,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  await sleep(windowMs);
  const mine = baseline.filter((p) => p.name === name && p.pid > 0);
  const { stdout } = await session.run(
    'check the processes lived through the window',
    sh`for p in ${mine.map((p) => p.pid)}; do if [ -d /proc/$p ]; then echo "$p"; fi; done`,
  );
  const alive = new Set(stdout.split('\n').filter(Boolean).map(Number));
  if (mine.length > 0 && mine.every((p) => alive.has(p.pid))) return;
  const before = restartCount(baseline, name);
  const processes = (await pm2List(session)).filter((p) => p.name === name);
  const restarts = processes.reduce((sum, p) => sum + p.restarts, 0);
  throw new OperationError(
    `${name} on ${session.name} is not stable: ${processes.length === 0 ? 'no process' : `restarts ${before} → ${restarts} in ${windowMs} ms, status ${processes.map((p) => p.status).join(', ')}`} (crash loop?).`,
    `read \`pm2 logs ${name} --lines 200\` on the host for the crash.`,
  );
}

export function restartCount(processes: Pm2Process[], name: string): number {
  return processes.filter((p) => p.name === name).reduce((sum, p) => sum + p.restarts, 0);
}

/**
 * Restarts (fork mode) or reloads (cluster mode, zero-downtime) a running app with `--update-env`,
 * `values` exported into the pm2 command's environment first, so the process holds them whatever
 * pm2 held before (dotenv never overrides a variable pm2 already passes). The values travel through
 * stdin, base64, one `NAME=…` per line — never on a command line, which every user of the host can
 * read in `ps`. pm2 merges the environment it is given into the one it keeps and never drops a
 * variable: a value being withdrawn is given as ''.
 */
export async function restartWithValues(
  session: SshSession,
  app: string,
  mode: 'cluster' | 'fork',
  values: Record<string, string>,
): Promise<'reloaded' | 'restarted'> {
  const verb = mode === 'cluster' ? 'reload' : 'restart';
  const stdin = exportLines(values);
  await session.run(
    `pm2 ${verb} --update-env`,
    sh`${EXPORT_LINES}
exec pm2 ${verb} ${app} --update-env`,
    { stdin, timeoutMs: 120_000 },
  );
  return mode === 'cluster' ? 'reloaded' : 'restarted';
}
