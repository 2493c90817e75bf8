/**
 * A host for deploy and rollback tests, the drill and the benchmarks: a sandbox droplet with its own sshd, pm2 and app
 * directory, the app's port in shared/.env, and the action inputs that reach it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Droplet, freePort, makeSampleRelease, type SampleRelease } from './index.js';
import { silentLog } from '../shared/src/log.js';
import { openSession, type SshOptions } from '../shared/src/ssh/connect.js';
import type { SshTarget } from '../shared/src/ssh/target.js';
import type { SandboxSshd } from './sshd.js';
import { parseKnownHosts } from '../shared/src/ssh/host-keys.js';
import type { SshSession } from '../shared/src/ssh/session.js';

export interface DeployHost {
  droplet: Droplet;
  port: number;
  appDir: string;
  /** `user@127.0.0.1:port` */
  host: string;
  healthUrl: string;
}

export const APP_NAME = 'bunty-backend';

export interface DeployHostOptions {
  /** The Node the host's commands find first (a droplet on another major). */
  node?: string;
  /**
   * The app's PORT in the host's environment too, where it wins over shared/.env (as with dotenv):
   * hosts on one machine share its ports, so a host given another's .env (a join) still listens on its own.
   */
  portInEnvironment?: boolean;
}

export async function startDeployHost(options: DeployHostOptions = {}): Promise<DeployHost> {
  const port = await freePort();
  const droplet = await Droplet.start({
    sshd: true,
    ...(options.node ? { node: options.node } : {}),
    ...(options.portInEnvironment ? { env: { PORT: String(port) } } : {}),
  });
  const sshd = droplet.sshd;
  if (!sshd) throw new Error('no sshd');
  const appDir = `${droplet.hostRoot}/var/www/${APP_NAME}`;
  mkdirSync(droplet.realPath(`${appDir}/shared`), { recursive: true });
  writeFileSync(droplet.realPath(`${appDir}/shared/.env`), `PORT=${port}\nHOST=127.0.0.1\n`);
  return {
    droplet,
    port,
    appDir,
    host: `${sshd.user}@${sshd.host}:${sshd.port}`,
    healthUrl: `http://127.0.0.1:${port}/health`,
  };
}

/**
 * A fleet of hosts, each a droplet of its own (sshd with its own host key, pm2 home, app directory),
 * started a few at a time: twenty cost about 20 MB and a fraction of a second each until an app runs.
 */
export async function startDeployHosts(count: number): Promise<DeployHost[]> {
  const hosts: DeployHost[] = [];
  try {
    for (let i = 0; i < count; i += 5)
      hosts.push(
        ...(await Promise.all(Array.from({ length: Math.min(5, count - i) }, () => startDeployHost()))),
      );
  } catch (error) {
    await stopDeployHosts(hosts);
    throw error;
  }
  return hosts;
}

export async function stopDeployHosts(hosts: DeployHost[]): Promise<void> {
  await Promise.all(hosts.map((h) => h.droplet.stop()));
}

/** Inputs shared by deploy and rollback, fast settings for tests; `hosts` may list several. */
export function hostInputs(hosts: DeployHost[]): Record<string, string> {
  const first = hosts[0] as DeployHost;
  // One deploy key for all hosts, as in production.
  for (const other of hosts.slice(1)) other.droplet.sshd?.authorize(first.droplet.sshd?.publicKey ?? '');
  return {
    hosts: hosts.map((h) => h.host).join('\n'),
    'ssh-key': first.droplet.sshd?.privateKey ?? '',
    'known-hosts': hosts.map((h) => h.droplet.sshd?.knownHosts).join('\n'),
    'app-name': APP_NAME,
    'app-dir': first.appDir,
    'app-script': 'server.cjs',
    'health-url': hosts.map((h) => h.healthUrl).join('\n'),
    interval: '150ms',
    'max-attempts': '8',
    deadline: '20s',
    timeout: '2s',
    'stabilization-window': '1s',
    'connect-attempts': '1',
  };
}

/** The same, for actions that act on an app already running (they never start one: no app-script). */
export function runningAppInputs(hosts: DeployHost[]): Record<string, string> {
  const inputs = hostInputs(hosts);
  delete inputs['app-script'];
  return inputs;
}

let counter = 0;

/** A fresh release directory for the sample app, inside the droplet (removed with it). */
export function sampleArtifact(h: DeployHost, release: SampleRelease): string {
  return makeSampleRelease(join(h.droplet.root, 'artifacts', `a${++counter}`), release);
}

export function sha(n: number): string {
  return n.toString(16).padStart(7, '0').repeat(6).slice(0, 40);
}

/** How our own SSH layer reaches a sandbox sshd: its address, generated key and pinned host key. */
export function sandboxSsh(sshd: SandboxSshd): { target: SshTarget; options: SshOptions } {
  return {
    target: { user: sshd.user, host: sshd.host, port: sshd.port },
    options: {
      privateKey: sshd.privateKey,
      hostKeys: {
        knownHosts: parseKnownHosts('known-hosts', sshd.knownHosts),
        fingerprints: [],
        insecureSkip: false,
      },
      connectTimeoutMs: 5000,
      connectAttempts: 1,
      retry: { initialMs: 100, factor: 2, maxMs: 100, jitter: 0 },
      commandTimeoutMs: 60_000,
    },
  };
}

/** An SSH session to the host through our own SSH layer, for setting a host up as a person would. */
export function openHostSession(h: DeployHost): Promise<SshSession> {
  const sshd = h.droplet.sshd;
  if (!sshd) throw new Error('sandbox: this droplet has no sshd');
  const { target, options } = sandboxSsh(sshd);
  return openSession(target, options, silentLog);
}

/** Runs a shell script inside the host's own mount namespace (where its sshd's commands run), as root. */
export function hostShell(h: DeployHost, script: string, ...args: string[]): string {
  return dropletShell(h.droplet, script, ...args);
}

/** Writes a file as the host sees it (through a tmpfs of its own, where realPath cannot reach). */
export function hostWriteFile(h: DeployHost, path: string, text: string): void {
  inDroplet(h.droplet, text, 'cat > "$1"', path);
}

/** Runs a shell script as the droplet sees the machine: inside its sshd's mount namespace. */
export function dropletShell(droplet: Droplet, script: string, ...args: string[]): string {
  return inDroplet(droplet, undefined, script, ...args);
}

function inDroplet(droplet: Droplet, input: string | undefined, script: string, ...args: string[]): string {
  const pid = droplet.sshd?.pid;
  if (!pid) throw new Error('sandbox: this droplet has no sshd');
  return execFileSync(
    'nsenter',
    ['-t', String(pid), '-m', '--', 'sh', '-c', script, 'sh', ...args],
    input === undefined ? {} : { input },
  ).toString();
}

/**
 * Puts the app directory on a small tmpfs of its own, visible only to the host (its mount
 * namespace): a full disk for deploy tests. Needs root, as the host namespaces do.
 */
export function mountSmallDisk(h: DeployHost, megabytes: number): void {
  hostShell(
    h,
    'mkdir -p "$1" && mount -t tmpfs -o size="$2"m tmpfs "$1" && mkdir -p "$1/shared" && printf "PORT=%s\\nHOST=127.0.0.1\\n" "$3" > "$1/shared/.env"',
    h.appDir,
    String(megabytes),
    String(h.port),
  );
}

/** Free KiB on the file system holding the app directory, as the host sees it. */
export function hostFreeKb(h: DeployHost): number {
  return Number(hostShell(h, 'df -Pk "$1" | awk \'NR==2 {print $4}\'', h.appDir).trim());
}

/** The release `current` points at, read on this machine ('' while there is none). */
export function currentRelease(h: DeployHost): string {
  try {
    return readlinkSync(h.droplet.realPath(`${h.appDir}/current`)).replace(/^releases\//, '');
  } catch {
    return '';
  }
}

/**
 * Fault injection: kills the host's sshd by pid (listener and every connection) the moment
 * `current` stops pointing at `from`, and starts it again on the same port `downMs` later (never, if 0).
 */
export async function killSshdAtSwitch(
  h: DeployHost,
  from: string,
  downMs: number,
  waitMs = 60_000,
): Promise<void> {
  for (const until = Date.now() + waitMs; currentRelease(h) === from;) {
    if (Date.now() > until) throw new Error('sandbox: the switch never came');
    await new Promise((r) => setTimeout(r, 5));
  }
  h.droplet.sshd?.kill();
  if (downMs > 0) {
    await new Promise((r) => setTimeout(r, downMs));
    await h.droplet.sshd?.restart();
  }
}

/** Hosts started by one test file, all stopped by `stopAll` (in its afterAll). */
export function deployHostPool(): { host(): Promise<DeployHost>; stopAll(): Promise<void> } {
  const started: DeployHost[] = [];
  return {
    async host() {
      const h = await startDeployHost();
      started.push(h);
      return h;
    },
    async stopAll() {
      await Promise.all(started.map((h) => h.droplet.stop()));
    },
  };
}
