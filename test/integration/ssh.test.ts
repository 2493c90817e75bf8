/**
 * The SSH layer against a real OpenSSH server: pinned host keys, refusals before any command,
 * retries on connection failures only, failing commands that fail the step, timeouts, a jump
 * host, and the quoting of every value proven with a corpus of hostile strings.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Droplet, freePort } from '../../sandbox/index.js';
import { silentLog } from '../../shared/src/log.js';
import { openSession, type SshOptions } from '../../shared/src/ssh/connect.js';
import { fingerprintOf, parseKnownHosts } from '../../shared/src/ssh/host-keys.js';
import { RemoteCommandError, type SshSession } from '../../shared/src/ssh/session.js';
import { allOf, sh, userCommand } from '../../shared/src/ssh/shell.js';
import type { SshTarget } from '../../shared/src/ssh/target.js';
import { hostileStrings } from '../helpers/hostile-strings.js';
import { sandboxSsh } from '../../sandbox/deploy-host.js';

let droplet: Droplet;
let target: SshTarget;
let options: SshOptions;
let session: SshSession;
const work = mkdtempSync(join(tmpdir(), 'runbook-ssh-test-'));

beforeAll(async () => {
  droplet = await Droplet.start({ sshd: true });
  const sshd = droplet.sshd;
  if (!sshd) throw new Error('no sshd');
  ({ target, options } = sandboxSsh(sshd));
  options = {
    ...options,
    retry: { initialMs: 50, factor: 2, maxMs: 200, jitter: 0 },
    commandTimeoutMs: 10_000,
  };
  session = await openSession(target, options, silentLog);
});

afterAll(async () => {
  session?.close();
  await droplet?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('host keys', () => {
  it('accepts the pinned fingerprint alone', async () => {
    const s = await openSession(
      target,
      {
        ...options,
        hostKeys: {
          knownHosts: [],
          fingerprints: [droplet.sshd?.hostFingerprint ?? ''],
          insecureSkip: false,
        },
      },
      silentLog,
    );
    expect((await s.run('echo', sh`echo ok`)).stdout).toBe('ok\n');
    s.close();
  });

  it('refuses a mismatched key before any command, naming both fingerprints', async () => {
    const wrongKey = Buffer.from(
      'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
      'base64',
    );
    const known = parseKnownHosts(
      'known-hosts',
      `[127.0.0.1]:${target.port} ssh-ed25519 ${wrongKey.toString('base64')}`,
    );
    const attempt = openSession(
      target,
      {
        ...options,
        connectAttempts: 3,
        hostKeys: { knownHosts: known, fingerprints: [], insecureSkip: false },
      },
      silentLog,
    );
    await expect(attempt).rejects.toThrow(
      new RegExp(
        `host key of \\[127\\.0\\.0\\.1\\]:${target.port} does not match: it offered ${escape(droplet.sshd?.hostFingerprint ?? '')}, expected ${escape(fingerprintOf(wrongKey))}\\. No command was run\\.`,
      ),
    );
  });

  it('refuses a host with no known_hosts line, unless told to skip the check', async () => {
    const none = { knownHosts: [], fingerprints: [], insecureSkip: false };
    await expect(openSession(target, { ...options, hostKeys: none }, silentLog)).rejects.toThrow(
      /no known_hosts line or fingerprint is given/,
    );
    const warnings: string[] = [];
    const s = await openSession(
      target,
      { ...options, hostKeys: { ...none, insecureSkip: true } },
      { ...silentLog, warn: (m) => void warnings.push(m) },
    );
    s.close();
    expect(warnings.join()).toMatch(/NOT verified/);
  });
});

describe('connections', () => {
  it('retries a refused connection with backoff, then says what to check', async () => {
    const port = await freePort();
    const warnings: string[] = [];
    const attempt = openSession(
      { ...target, port },
      { ...options, connectAttempts: 3 },
      { ...silentLog, warn: (m) => void warnings.push(m) },
    );
    await expect(attempt).rejects.toThrow(
      /Could not connect to .* after 3 attempts: .*ECONNREFUSED.*No command was run/,
    );
    expect(warnings).toHaveLength(2);
  });

  it('does not retry a refused login', async () => {
    const other = join(work, 'other_key');
    const { execFileSync } = await import('node:child_process');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const { readFileSync } = await import('node:fs');
    const warnings: string[] = [];
    const attempt = openSession(
      target,
      { ...options, privateKey: readFileSync(other, 'utf8'), connectAttempts: 3 },
      { ...silentLog, warn: (m) => void warnings.push(m) },
    );
    await expect(attempt).rejects.toThrow(/after 1 attempt: All configured authentication methods failed/);
    expect(warnings).toEqual([]);
  });

  it('reaches the host through a jump host', async () => {
    const s = await openSession(target, { ...options, proxy: target }, silentLog);
    expect((await s.run('whoami', sh`whoami`)).stdout.trim()).toBe(target.user);
    s.close();
  });
});

describe('commands', () => {
  it('fails the step on a non-zero exit with the code and the last stderr lines', async () => {
    const failing = session.run(
      'migrate',
      sh`echo first >&2; echo 'relation "users" does not exist' >&2; exit 3`,
    );
    await expect(failing).rejects.toThrow(RemoteCommandError);
    await expect(failing).rejects.toThrow(
      /^migrate failed on .*: exit code 3\. Last stderr lines:\nfirst\nrelation "users" does not exist$/,
    );
  });

  it('treats listed exit codes as answers', async () => {
    expect((await session.run('probe', sh`test -e /nonexistent`, { okCodes: [1] })).code).toBe(1);
  });

  it('times a command out and says it may still run', async () => {
    await expect(session.run('slow step', sh`sleep 5`, { timeoutMs: 300 })).rejects.toThrow(
      /^slow step failed on .*: timed out after 300 ms\.$/,
    );
  });

  it('passes stdin', async () => {
    expect((await session.run('cat', sh`cat`, { stdin: 'line 1\nline 2' })).stdout).toBe('line 1\nline 2');
  });
});

describe('quoting', () => {
  const canaryDir = mkdtempSync(join(tmpdir(), 'runbook-canary-'));
  afterAll(() => rmSync(canaryDir, { recursive: true, force: true }));
  const canary = join(canaryDir, 'canary');
  const corpus = hostileStrings(canary);

  it('has at least 30 hostile strings', () => expect(corpus.length).toBeGreaterThanOrEqual(30));

  it('passes every hostile string through as one literal argument and runs none of it', async () => {
    const echoed = await session.run('echo back', sh`cd ${canaryDir} && printf '%s\\0' ${corpus}`);
    expect(echoed.stdout.split('\0').slice(0, -1)).toEqual(corpus);
    const words = await session.run('count words', sh`cd ${canaryDir} && set -- ${corpus} && echo $#`);
    expect(words.stdout.trim()).toBe(String(corpus.length));
    expect(existsSync(canary)).toBe(false);
    expect(readdirSync(canaryDir)).toEqual([]);
  });

  it('keeps hostile values inert inside composed file operations', async () => {
    const steps = corpus.map((value, i) => {
      const dir = join(canaryDir, `d${i}`);
      return sh`mkdir -p -- ${dir} && cd -- ${dir} && printf '%s' ${value} > ./value && ln -sfn -- ${value} ./link`;
    });
    await session.run('write', allOf(...steps));
    const { readFileSync, readlinkSync } = await import('node:fs');
    corpus.forEach((value, i) => {
      expect(readFileSync(join(canaryDir, `d${i}`, 'value'), 'utf8')).toBe(value);
      expect(readlinkSync(join(canaryDir, `d${i}`, 'link'))).toBe(value);
    });
    expect(existsSync(canary)).toBe(false);
  });

  it('runs a user command as one argument to sh -c, in the given directory', async () => {
    const dir = join(canaryDir, "it's a dir $(touch x)");
    await session.run('mkdir', sh`mkdir -p ${dir}`);
    const result = await session.run('install', userCommand(dir, 'pwd && echo "$((1 + 2))"'));
    expect(result.stdout).toBe(`${dir}\n3\n`);
    expect(existsSync(canary)).toBe(false);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
