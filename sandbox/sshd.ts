/**
 * A real OpenSSH server on 127.0.0.1 with its own host key, accepting one client key generated at
 * run time (never committed). Remote commands get PM2_HOME and PATH through `SetEnv`, because
 * commands run over ssh do not inherit the test process's environment.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './net.js';
import type { ProcessTracker } from './processes.js';
import { SSHD, ensureSystemPrograms, isRoot } from './system.js';

export interface SandboxSshd {
  host: string;
  port: number;
  user: string;
  /** OpenSSH private key (PEM) of the generated client key: a secret. */
  privateKey: string;
  /** Its public key line. */
  publicKey: string;
  /** Lets another client key in too (one deploy key reaching several hosts). */
  authorize(publicKey: string): void;
  /** A known_hosts line for this server. */
  knownHosts: string;
  /** `SHA256:…` of the host key. */
  hostFingerprint: string;
  /** The listening sshd's pid (changes when it is restarted). */
  pid: number;
  configFile: string;
  /** Kills sshd by pid, listener and every connection: what a crashed sshd or a reboot does to clients. */
  kill(): void;
  /** Starts sshd again on the same port, with the same keys (after kill). */
  restart(): Promise<void>;
  /** Logins accepted so far (sshd's own "Accepted publickey" lines): how many connections clients opened. */
  logins(): number;
}

function keygen(file: string, comment: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'pipe' });
}

/** Values for `SetEnv` must not contain spaces or quotes: the sandbox controls them, check anyway. */
function setEnvLine(env: Record<string, string>): string {
  const pairs = Object.entries(env).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || /[\s"'\\]/.test(value)) {
      throw new Error(`sandbox: environment ${name} cannot be passed through sshd SetEnv`);
    }
    return `${name}=${value}`;
  });
  return pairs.length > 0 ? `SetEnv ${pairs.join(' ')}` : '';
}

/**
 * Where a namespaced sshd shows the droplet's root. Every droplet binds its own root here inside
 * its own mount namespace, so two "hosts" on this machine have the same paths (`/tmp/runbook-host/
 * var/www/…`) yet different files, as two real droplets do.
 */
export const HOST_VIEW = '/tmp/runbook-host';

export async function startSshd(
  root: string,
  tracker: ProcessTracker,
  env: Record<string, string> = {},
  namespaced = false,
): Promise<SandboxSshd> {
  ensureSystemPrograms({ sshd: true });
  const dir = join(root, 'sshd');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  keygen(hostKey, 'sandbox-host');
  keygen(clientKey, 'sandbox-client');
  copyFileSync(`${clientKey}.pub`, join(dir, 'authorized_keys'));
  const port = await freePort();
  const configFile = join(dir, 'sshd_config');
  writeFileSync(
    configFile,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      isRoot ? 'PermitRootLogin prohibit-password' : '',
      'UsePAM no',
      'StrictModes no',
      'MaxStartups 100:30:200',
      'MaxSessions 50',
      'Subsystem sftp internal-sftp',
      // bash sources ~/.bashrc for a command run by sshd when it is the top-level shell, and this
      // machine's root .bashrc (no "not interactive: return" guard, unlike a droplet's) runs
      // `pyenv init` — ~130 ms of CPU on every remote command. SHLVL=1 makes bash a nested shell.
      setEnvLine({ SHLVL: '1', ...env }),
    ]
      .filter((line) => line !== '')
      .join('\n') + '\n',
  );
  // sshd insists on its privilege-separation directory even with a private config.
  if (isRoot) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  let logins = 0;
  let partial = '';
  const launch = async (): Promise<number> => {
    const child = namespaced
      ? // unshare and sh both exec: the pid we track is sshd's. Paths travel as positional arguments.
        tracker.spawn(
          'sshd',
          'unshare',
          [
            '--mount',
            '--propagation',
            'private',
            '/bin/sh',
            '-c',
            'mkdir -p "$2" && mount --bind "$1" "$2" && exec "$3" -D -e -f "$4"',
            'sh',
            root,
            HOST_VIEW,
            SSHD,
            configFile,
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        )
      : tracker.spawn('sshd', SSHD, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      logins += lines.filter((line) => line.startsWith('Accepted publickey')).length;
    });
    try {
      await waitForPort(port, 10_000, 'sshd');
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${log}`, { cause: error });
    }
    return child.pid as number;
  };
  if (namespaced) mkdirSync(HOST_VIEW, { recursive: true });
  const firstPid = await launch();
  const hostPub = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const fingerprint =
    execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`])
      .toString()
      .split(/\s+/)[1] ?? '';
  const server: SandboxSshd = {
    host: '127.0.0.1',
    port,
    user: userInfo().username,
    privateKey: readFileSync(clientKey, 'utf8'),
    publicKey: readFileSync(`${clientKey}.pub`, 'utf8').trim(),
    authorize: (publicKey: string) => appendFileSync(join(dir, 'authorized_keys'), `${publicKey}\n`),
    knownHosts: `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}`,
    hostFingerprint: fingerprint,
    pid: firstPid,
    configFile,
    kill: () => {
      // Stop the listener first, so that it cannot accept (and fork for) a client that reconnects in the
      // moment its connections are being killed — such a late child outlived the kill and once served a
      // "lost" host's restore. Then the connections (its children), then the listener itself.
      try {
        process.kill(server.pid, 'SIGSTOP');
      } catch {
        // already gone
      }
      spawnSync('pkill', ['-KILL', '-P', String(server.pid)]);
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
    restart: async () => {
      server.pid = await launch();
    },
    logins: () => logins,
  };
  return server;
}
