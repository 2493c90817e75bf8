/**
 * `traffic: nginx`: releases side by side behind nginx, as kamal-proxy runs them. Each release runs
 * as its own pm2 process in one of two slots (`<app>-blue`, `<app>-green`), each on its own port; the
 * suite owns one nginx file, an `upstream <app>` block naming the live slot's port, which the site's
 * `proxy_pass http://<app>` sends traffic to. Moving traffic is writing that file (renamed into
 * place), `nginx -t`, and a graceful reload: nginx's old workers finish their requests on the old
 * slot while new ones go to the new. The file is the truth of which slot serves: it is what nginx
 * reads. This module knows the file; releases/slots.ts moves releases through it.
 */
import type { Inputs } from '../config/inputs.js';
import { ConfigurationError, OperationError } from '../errors.js';
import type { SshSession } from '../ssh/session.js';
import { sh, type ShellCommand } from '../ssh/shell.js';

export const SLOTS = ['blue', 'green'] as const;
export type Slot = (typeof SLOTS)[number];

export interface TrafficOptions {
  /** The two slots' ports: blue's, then green's. */
  slotPorts: [number, number];
  /** The variable the app reads its port from (dotenv does not override it). */
  portEnv: string;
  /** The nginx file holding `upstream <app>`, included in nginx's http block. */
  upstreamFile: string;
  testCommand: string;
  reloadCommand: string;
  /** How long the previous slot keeps running after a switch: 'next-deploy', or ms. */
  keepPreviousMs: number | 'next-deploy';
  /** Free memory below what the live slot uses × 1.5: start after stopping it, or refuse. */
  whenShortOfMemory: 'fallback' | 'refuse';
  /** Run on the host at the switch, with the old slot's name and port in SLOT_NAME and SLOT_PORT. */
  overlapStopCommand?: string;
}

/** What the upstream file says serves. `slot` is undefined for a port that is no slot's (a plain pm2 app). */
export interface LiveUpstream {
  port: number;
  slot?: Slot;
  release?: string;
}

export const slotName = (app: string, slot: Slot) => `${app}-${slot}`;
/** A pm2 process of the app: its own name, or one of its slots' (traffic: nginx). */
export const isAppProcess = (name: string, app: string) =>
  name === app || SLOTS.some((slot) => name === slotName(app, slot));
export const otherSlot = (slot: Slot | undefined): Slot => (slot === 'blue' ? 'green' : 'blue');
export const slotPort = (traffic: TrafficOptions, slot: Slot) =>
  traffic.slotPorts[SLOTS.indexOf(slot)] as number;

/** The file's whole text: the upstream block, and a comment line the suite reads back. */
export function upstreamText(app: string, live: LiveUpstream): string {
  return `# runbook-actions: the slot of ${app} that nginx sends traffic to. Written by action-deploy,
# action-rollback and action-ops (traffic-setup, restart); an edit here is overwritten at the next switch.
# live: ${live.slot ?? 'plain'} ${live.port} ${live.release ?? '-'}
upstream ${app} {
    server 127.0.0.1:${live.port};
}
`;
}

/** The live port from the file's `server` line (what nginx reads), named by the comment when it agrees. */
export function parseUpstream(text: string, traffic: TrafficOptions): LiveUpstream | undefined {
  const server = /^\s*server\s+(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)\b[^;]*;/m.exec(text);
  if (!server) return undefined;
  const port = Number(server[1]);
  const comment = /^# live: (\S+) (\d+) (\S+)$/m.exec(text);
  const index = traffic.slotPorts.indexOf(port);
  const release = comment && Number(comment[2]) === port && comment[3] !== '-' ? comment[3] : undefined;
  return { port, ...(index >= 0 ? { slot: SLOTS[index] as Slot } : {}), ...(release ? { release } : {}) };
}

/** Exit code of the upstream read when the file is not there. */
const UPSTREAM_ABSENT = 44;

/** The upstream file's text, or exit UPSTREAM_ABSENT (read-only). */
export const upstreamReadCommand = (traffic: TrafficOptions) =>
  sh`cat -- ${traffic.upstreamFile} 2>/dev/null || exit ${String(UPSTREAM_ABSENT)}`;

export async function readUpstream(
  session: SshSession,
  traffic: TrafficOptions,
): Promise<LiveUpstream | undefined> {
  const { stdout, code } = await session.run('read the nginx upstream', upstreamReadCommand(traffic), {
    okCodes: [UPSTREAM_ABSENT],
  });
  return code === UPSTREAM_ABSENT ? undefined : parseUpstream(stdout, traffic);
}

/** What serves on the host, read from nginx's upstream file; refused when it is not set up. */
export async function liveUpstream(
  host: string,
  session: SshSession,
  traffic: TrafficOptions,
): Promise<LiveUpstream> {
  return requireUpstream(host, traffic, await readUpstream(session, traffic));
}

/** The upstream read, refused when the file is not set up (see liveUpstream). */
export function requireUpstream(
  host: string,
  traffic: TrafficOptions,
  live: LiveUpstream | undefined,
): LiveUpstream {
  if (!live)
    throw new OperationError(
      `${host}: ${traffic.upstreamFile} is not there (or names no server): traffic: nginx sends traffic through it. Nothing was changed.`,
      "run action-ops traffic-setup on the host once (it writes the upstream for the app that serves now and points the site's proxy_pass at it), then run again.",
    );
  return live;
}

/**
 * The health URL must reach the app through nginx: one that names an app port directly would prove
 * a slot, not what users get — and after the switch it asks the port nginx no longer sends to.
 */
export function refuseBypass(host: string, url: URL, live: LiveUpstream, traffic: TrafficOptions): void {
  if (url.port === '' || ![live.port, ...traffic.slotPorts].includes(Number(url.port))) return;
  throw new OperationError(
    `${host}: health-url ${url.href} asks the app's port ${url.port} directly, not through nginx: with traffic: nginx it must be the URL users reach (nginx's). Nothing was changed.`,
    "give health-url as the site's URL (e.g. https://api.example.com/health); each slot is checked on its own port through SSH before traffic moves.",
  );
}

/** Exit code of the swap when `nginx -t` refused the new file (it is put back, nothing reloaded). */
export const NGINX_TEST_FAILED = 42;

/**
 * Writes the upstream file for `live` by rename, tests nginx's whole config, and reloads it
 * gracefully; when the test fails the old file is put back, nothing is reloaded, and the command
 * exits NGINX_TEST_FAILED with nginx's words on stderr. `test: false` (a rollback to a slot that
 * runs already, the first answer waiting on it) reloads without testing first: `nginx -s reload`
 * parses the whole config itself and refuses a broken one before it signals the master, so its
 * refusal is handled as a failed test is — one parse of the config less.
 */
export function swapUpstreamCommand(
  traffic: TrafficOptions,
  app: string,
  live: LiveUpstream,
  how: { test: boolean } = { test: true },
): ShellCommand {
  // Renamed into place when the deploy user may write its directory (conf.d is often root's: then
  // the file itself, made the deploy user's once, is rewritten). nginx reads it only at the test and
  // the reload below, both after the write.
  return sh`f=${traffic.upstreamFile}; text=${upstreamText(app, live)}
had=0; if [ -e "$f" ]; then old=$(cat -- "$f") || exit 1; had=1; fi
dir=\${f%/*}; if [ -w "\${dir:-/}" ]; then
  printf '%s' "$text" > "$f.runbook-tmp" && mv -f -- "$f.runbook-tmp" "$f" || exit 1
else
  printf '%s' "$text" > "$f" || exit 1
fi
if ! out=$(sh -c ${how.test ? traffic.testCommand : traffic.reloadCommand} 2>&1); then
  if [ "$had" = 1 ]; then printf '%s\n' "$old" > "$f"; else rm -f -- "$f"; fi
  printf '%s\n' "$out" >&2
  exit ${String(NGINX_TEST_FAILED)}
fi
${how.test ? sh`sh -c ${traffic.reloadCommand} || exit 1` : sh`true`}`;
}

/** The last lines nginx said when its config test failed. */
export const nginxSaid = (stderr: string) => stderr.trim().split('\n').slice(-3).join(' / ');

function parsePort(input: string, raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535)
    throw new ConfigurationError(input, `${JSON.stringify(raw)} is not a TCP port (1–65535).`);
  return port;
}

/** The traffic inputs, shared by deploy, rollback, ops and rotation; undefined for `traffic: pm2`. */
export function readTraffic(inputs: Inputs, app: string): TrafficOptions | undefined {
  if (inputs.choice('traffic', ['pm2', 'nginx'] as const, 'pm2') === 'pm2') return undefined;
  return readTrafficOptions(inputs, app);
}

/** The slots and the nginx file, whatever `traffic` says (traffic-setup needs them without it). */
export function readTrafficOptions(inputs: Inputs, app: string): TrafficOptions {
  const ports = inputs.list('slot-ports');
  if (ports.length !== 2)
    throw new ConfigurationError(
      'slot-ports',
      `gives ${ports.length} port${ports.length === 1 ? '' : 's'}; traffic: nginx needs two, the blue slot's and the green slot's (e.g. 3001,3002).`,
    );
  const slotPorts = ports.map((p) => parsePort('slot-ports', p)) as [number, number];
  if (slotPorts[0] === slotPorts[1])
    throw new ConfigurationError('slot-ports', `names port ${slotPorts[0]} twice: each slot needs its own.`);
  const portEnv = inputs.raw('port-env') || 'PORT';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(portEnv))
    throw new ConfigurationError(
      'port-env',
      `${JSON.stringify(portEnv)} is not an environment variable name.`,
    );
  const upstreamFile = inputs.string('nginx-upstream-file') ?? `/etc/nginx/conf.d/${app}-upstream.conf`;
  if (!upstreamFile.startsWith('/') || /[\s;{}'"$#\\]/.test(upstreamFile))
    throw new ConfigurationError(
      'nginx-upstream-file',
      `${JSON.stringify(upstreamFile)} must be an absolute path with nothing nginx or a shell would read as syntax.`,
    );
  const keep = inputs.raw('keep-previous') || 'next-deploy';
  const overlap = inputs.string('overlap-stop-command');
  return {
    slotPorts,
    portEnv,
    upstreamFile,
    testCommand: inputs.string('nginx-test-command') ?? 'nginx -t',
    reloadCommand: inputs.string('nginx-reload-command') ?? 'nginx -s reload',
    keepPreviousMs:
      keep === 'next-deploy'
        ? 'next-deploy'
        : inputs.duration('keep-previous', 0, { min: 0, max: 86_400_000 }),
    whenShortOfMemory: inputs.choice('when-short-of-memory', ['fallback', 'refuse'] as const, 'fallback'),
    ...(overlap ? { overlapStopCommand: overlap } : {}),
  };
}
