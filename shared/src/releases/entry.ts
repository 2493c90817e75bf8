/**
 * The app's entry point, found the way pm2 and npm find it, in the release itself: a pm2 ecosystem
 * file's app of that name, else `package.json`'s `start` script when it is `node [flags] <file>
 * [args]`, else `package.json` `main`, else `server.js`. The files are read on the host by a few
 * lines of node (pm2 runs on node, so it is there); an ecosystem file is loaded as pm2 loads it,
 * and only the app fields below leave the host — never its `env`. Each release records the entry it
 * was started with in the release log, so a rollback or restart starts it the same way later.
 */
import { changesHowProgramsRun, PROCESS_VARIABLES } from '../envfile/envfile.js';
import { OperationError } from '../errors.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';

export interface AppEntry {
  /** The file pm2 starts, relative to the release. */
  script: string;
  /** Flags for node itself (`--enable-source-maps`, `-r dotenv/config`). */
  nodeArgs: string[];
  /** Arguments after the script. */
  args: string[];
  /** `NAME=value` assignments written before `node` in the start script. */
  env: Record<string, string>;
  /**
   * Found in a pm2 ecosystem file: its app's `env` is applied at every start, read on the host by
   * pm2.ts — the values never leave the host and are not recorded.
   */
  ecosystem?: { file: string; app: string };
  /** Names of the ecosystem app's env that are not given to the pm2 command (and so not to the app). */
  heldBack?: string[];
  /** Where it was found, for the plan and the log. */
  source: string;
}

/** What the host found in the release's files (the JSON the discovery script prints). */
export interface EntryFacts {
  ecosystem?: {
    file: string;
    apps?: {
      name?: unknown;
      script?: unknown;
      args?: unknown;
      node_args?: unknown;
      /** Its env's NODE_OPTIONS: node flags, given to the app as such (see parseStartScript). */
      node_options?: unknown;
      /** Names in its env that change how the pm2 command runs: kept out of it (names only). */
      held_back?: unknown;
    }[];
    error?: string;
  };
  package?: { start?: unknown; main?: unknown; error?: string };
  /** Relative paths among the candidates that are files in the release. */
  files: string[];
}

/** Flags of node that take their value as the next word. */
const NODE_FLAGS_WITH_VALUE = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '--env-file',
  '--title',
  '-C',
  '--conditions',
  '--inspect-port',
  '--stack-size',
]);
const SHELL_SYNTAX = /[|&;<>()$`\\*?{}]/;

/** Words of a command, honouring simple '…' and "…" quoting; undefined when it is more than that. */
function words(command: string): string[] | undefined {
  const out: string[] = [];
  // A word is pieces side by side, each quoted or bare: NODE_OPTIONS="--a --b" is one word.
  // Each bare character is its own piece: no two ways to match one text, so no backtracking.
  const word = /\s*((?:'[^']*'|"[^"\\$`]*"|[^\s'"])+)/gy;
  const piece = /'([^']*)'|"([^"\\$`]*)"|([^\s'"]+)/g;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = word.exec(command)) !== null && m[0] !== '') {
    at = word.lastIndex;
    let text = '';
    for (const p of (m[1] as string).matchAll(piece)) {
      const bare = p[3];
      if (bare !== undefined && SHELL_SYNTAX.test(bare)) return undefined;
      text += p[1] ?? p[2] ?? bare ?? '';
    }
    out.push(text);
  }
  return command.slice(at).trim() === '' ? out : undefined;
}

/** `./dist/index.js` → `dist/index.js`; undefined for a path outside the release. */
function releasePath(raw: string): string | undefined {
  const path = raw.replace(/^(\.\/)+/, '');
  if (path === '' || path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '' || s === '.'))
    return undefined;
  return path;
}

/**
 * A `start` script that is `[NAME=value …] [cross-env] node [node flags] <file> [args]`, as words;
 * undefined for anything else (another program, shell syntax, `npm run build && …`). Its NAME=value
 * pairs are exported into the pm2 command that starts the app, so none may change how that command
 * runs: NODE_OPTIONS becomes node flags of the app (pm2's --node-args), PATH, LD_* and the like make
 * the script one to name with app-script instead.
 */
export function parseStartScript(command: string): Omit<AppEntry, 'source'> | undefined {
  const list = words(command);
  if (!list) return undefined;
  const env: Record<string, string> = {};
  let i = 0;
  if (list[i] === 'cross-env') i++;
  for (; i < list.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(list[i] as string); i++) {
    const word = list[i] as string;
    env[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1);
  }
  if (list[i] === 'cross-env') i++;
  if (!/(^|\/)node$/.test(list[i] ?? '')) return undefined;
  i++;
  const nodeArgs: string[] = [];
  if (env.NODE_OPTIONS !== undefined) {
    nodeArgs.push(...(words(env.NODE_OPTIONS) ?? []));
    delete env.NODE_OPTIONS;
  }
  if (Object.keys(env).some(changesHowProgramsRun)) return undefined;
  for (; i < list.length && (list[i] as string).startsWith('-'); i++) {
    const flag = list[i] as string;
    nodeArgs.push(flag);
    if (NODE_FLAGS_WITH_VALUE.has(flag) && i + 1 < list.length) nodeArgs.push(list[++i] as string);
  }
  const script = releasePath(list[i] ?? '');
  if (!script) return undefined;
  return { script, nodeArgs, args: list.slice(i + 1), env };
}

function stringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return words(value) ?? value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return undefined;
}

/**
 * Picks the entry from what the host found, in pm2's and npm's order. Throws, listing every place
 * looked at and what each said, when none names a file that is in the release.
 */
export function chooseEntry(facts: EntryFacts, appName: string, where: string): AppEntry {
  const looked: string[] = [];
  const exists = (path: string) => facts.files.includes(path);
  const none = { nodeArgs: [], args: [], env: {} };

  const eco = facts.ecosystem;
  if (eco?.error) looked.push(`${eco.file}: could not be loaded (${eco.error})`);
  else if (eco) {
    const apps = eco.apps ?? [];
    const app = apps.find((a) => a.name === appName) ?? (apps.length === 1 ? apps[0] : undefined);
    const script = typeof app?.script === 'string' ? releasePath(app.script) : undefined;
    if (!app)
      looked.push(
        `${eco.file}: no app named ${appName} (it has ${apps.map((a) => String(a.name)).join(', ') || 'none'})`,
      );
    else if (!script) looked.push(`${eco.file}: app ${String(app.name)} has no script inside the release`);
    else if (!exists(script))
      looked.push(`${eco.file}: app ${String(app.name)} names ${script}, not in the release`);
    else {
      const heldBack = (Array.isArray(app.held_back) ? app.held_back.map(String) : []).filter(
        (name) => name !== 'NODE_OPTIONS',
      );
      return {
        script,
        nodeArgs: [
          ...(typeof app.node_options === 'string' ? (stringList(app.node_options) ?? []) : []),
          ...(stringList(app.node_args) ?? []),
        ],
        args: stringList(app.args) ?? [],
        env: {},
        ecosystem: { file: eco.file, app: String(app.name) },
        ...(heldBack.length ? { heldBack } : {}),
        source: `${eco.file} (app ${String(app.name)})`,
      };
    }
  } else looked.push('ecosystem.config.{js,cjs,mjs,json}: none');

  const pkg = facts.package;
  if (pkg?.error) looked.push(`package.json: could not be read (${pkg.error})`);
  else if (!pkg) looked.push('package.json: none');
  else {
    if (typeof pkg.start !== 'string') looked.push('package.json scripts.start: none');
    else {
      const start = parseStartScript(pkg.start);
      if (!start) looked.push(`package.json scripts.start ${JSON.stringify(pkg.start)}: not \`node <file>\``);
      else if (!exists(start.script))
        looked.push(`package.json scripts.start runs ${start.script}, not in the release (not built?)`);
      else return { ...start, source: 'package.json scripts.start' };
    }
    const main = typeof pkg.main === 'string' ? releasePath(pkg.main) : undefined;
    if (typeof pkg.main !== 'string') looked.push('package.json main: none');
    else if (!main || !exists(main))
      looked.push(`package.json main ${JSON.stringify(pkg.main)}: not in the release`);
    else return { script: main, ...none, source: 'package.json main' };
  }
  if (exists('server.js')) return { script: 'server.js', ...none, source: 'server.js (the default)' };
  looked.push('server.js: not in the release');
  throw new OperationError(
    `${where}: no entry point found for ${appName}. Looked at: ${looked.join('; ')}.`,
    'set app-script to the file pm2 should start (e.g. dist/index.js), or add a `"start": "node <file>"` script to package.json; if the app is built (tsc), make sure the build output is in the artifact.',
  );
}

/**
 * Runs on the host with the release directory: prints the ecosystem apps, package.json's start and
 * main, and which of the words they hold (and server.js) are files of the release — one round trip.
 */
const READ_ENTRY_FACTS = `const fs=require('fs'),path=require('path'),url=require('url');const dir=process.argv[1];const out={};const words=new Set(['server.js']);
const add=v=>{if(typeof v==='string')for(const w of v.split(/\\s+/))words.add(w.replace(/^['"]|['"]$/g,'').replace(/^(\\.\\/)+/,''));};
(async()=>{for(const f of ['ecosystem.config.js','ecosystem.config.cjs','ecosystem.config.mjs','ecosystem.config.json']){const p=path.join(dir,f);if(!fs.existsSync(p))continue;
try{let c;if(f.endsWith('.json'))c=JSON.parse(fs.readFileSync(p,'utf8'));else{const m=await import(url.pathToFileURL(p).href);c=m.default??m;}
let apps=Array.isArray(c)?c:(c&&c.apps)||[];if(!Array.isArray(apps))apps=[apps];
const unsafe=new RegExp(process.argv[2]);
out.ecosystem={file:f,apps:apps.map(a=>{add(a&&a.script);const env=(a&&a.env)||{};return{name:a&&a.name,script:a&&a.script,args:a&&a.args,node_args:a&&(a.node_args??a.nodeArgs??a.interpreter_args),node_options:env.NODE_OPTIONS,held_back:Object.keys(env).filter(k=>unsafe.test(k))}})};}
catch(e){out.ecosystem={file:f,error:String((e&&e.message)||e).split('\\n')[0].slice(0,200)};}break;}
const pj=path.join(dir,'package.json');if(fs.existsSync(pj)){try{const j=JSON.parse(fs.readFileSync(pj,'utf8'));out.package={start:j.scripts&&j.scripts.start,main:j.main};add(out.package.start);add(out.package.main);}catch(e){out.package={error:String(e.message).slice(0,200)};}}
out.files=[...words].filter(w=>{if(!w||w.startsWith('/')||w.split('/').includes('..'))return false;try{return fs.statSync(path.join(dir,w)).isFile()}catch{return false}});
console.log(JSON.stringify(out));})();`;

/** Reads the entry facts of the release in `dir` on the host. */
export async function readEntryFacts(session: SshSession, dir: string): Promise<EntryFacts> {
  const { stdout } = await session.run(
    'find the entry point',
    sh`cd -- ${dir} && node -e ${READ_ENTRY_FACTS} ${dir} ${PROCESS_VARIABLES.source} </dev/null`,
    { timeoutMs: 30_000 },
  );
  try {
    const facts = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as EntryFacts;
    return { ...facts, files: Array.isArray(facts.files) ? facts.files : [] };
  } catch {
    throw new OperationError(
      `${session.name}: reading ${dir}'s package.json and ecosystem file printed no JSON: ${stdout.slice(0, 200)}`,
      'set app-script to the file pm2 should start.',
    );
  }
}

/** The entry of the release in `dir`: `explicit` (app-script) when given and present, else discovered. */
export async function discoverEntry(
  session: SshSession,
  dir: string,
  appName: string,
  explicit: string | undefined,
): Promise<AppEntry> {
  if (explicit) {
    const { code } = await session.run('check the entry script', sh`test -f ${`${dir}/${explicit}`}`, {
      okCodes: [1],
    });
    if (code !== 0)
      throw new OperationError(
        `${session.name}: ${explicit} (app-script) is not in ${dir}.`,
        'check app-script against the release (is the build output in the artifact?), or leave it empty to find the entry from package.json or an ecosystem file.',
      );
    return { script: explicit, nodeArgs: [], args: [], env: {}, source: 'app-script' };
  }
  return chooseEntry(await readEntryFacts(session, dir), appName, `${session.name}:${dir}`);
}

/** The entry as the release log keeps it (no `source`: it is said where it was started). */
export type RecordedEntry = Omit<AppEntry, 'source'>;

export function recordOf(entry: AppEntry): RecordedEntry {
  return {
    script: entry.script,
    nodeArgs: entry.nodeArgs,
    args: entry.args,
    env: entry.env,
    ...(entry.ecosystem ? { ecosystem: entry.ecosystem } : {}),
  };
}

/** A human line: `dist/index.js (package.json scripts.start)`. Env values are never shown. */
export function describeEntry(entry: AppEntry): string {
  const env = Object.keys(entry.env);
  const heldBack = entry.heldBack?.length
    ? `; ${entry.heldBack.join(', ')} of its env left out: ${entry.heldBack.length === 1 ? 'it changes' : 'they change'} how the pm2 command itself runs`
    : '';
  return `${[...(env.length ? [`${env.join(', ')} set`] : []), 'node', ...entry.nodeArgs, entry.script, ...entry.args].join(' ')} (${entry.source}${heldBack})`;
}

/**
 * Why the release in `dir` cannot be started with `entry`, or [] when it can: its entry file is
 * missing, its dependencies are not installed (package.json lists some, node_modules is absent), a
 * linked file or directory (shared/.env) points at nothing. Read in one command, changing nothing.
 */
export async function startProblems(session: SshSession, dir: string, entry: AppEntry): Promise<string[]> {
  const { stdout } = await session.run(
    'check the release can start',
    sh`cd -- ${dir} 2>/dev/null || { echo 'missing-dir'; exit 0; }
test -f ${entry.script} || echo 'missing-script'
if [ -f package.json ] && [ ! -d node_modules ] && node -e 'const d=require("./package.json").dependencies||{};process.exit(Object.keys(d).length?0:1)' 2>/dev/null; then echo 'missing-node-modules'; fi
find . -maxdepth 2 -path ./node_modules -prune -o -type l ! -exec test -e {} ';' -print | sed 's/^/dangling\t/'
exit 0`,
  );
  const problems: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line === 'missing-dir') problems.push(`${dir} does not exist`);
    else if (line === 'missing-script')
      problems.push(`its entry ${entry.script} (${entry.source}) is not there`);
    else if (line === 'missing-node-modules')
      problems.push('package.json lists dependencies but node_modules is not installed');
    else if (line.startsWith('dangling\t'))
      problems.push(`${line.slice(9).replace(/^\.\//, '')} is a link to nothing (a shared file removed?)`);
  }
  return problems;
}
