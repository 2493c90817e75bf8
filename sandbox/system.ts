/**
 * The system programs the sandbox needs (sshd, PostgreSQL server binaries). As root, missing ones
 * are installed from apt; otherwise the sandbox stops with the packages to install.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const isRoot = process.getuid?.() === 0;

export const SSHD = '/usr/sbin/sshd';
const PG_ROOT = '/usr/lib/postgresql';

/** The newest installed PostgreSQL server's bin directory, or undefined. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(PG_ROOT, versions[0], 'bin') : undefined;
}

let aptUpdated = false;

function aptInstall(packages: string[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    aptUpdated = true;
  }
  // policy-rc.d 101 keeps the packages from starting their system services: the sandbox runs its own.
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = existsSync(policy);
  if (!hadPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
      stdio: 'ignore',
      env,
    });
  } finally {
    if (!hadPolicy) rmSync(policy, { force: true });
  }
}

/** Makes sure each named program is present, installing its package as root. */
export function ensureSystemPrograms(needs: { sshd?: boolean; postgres?: boolean }): void {
  const missing: string[] = [];
  if (needs.sshd && !existsSync(SSHD)) missing.push('openssh-server');
  if (needs.postgres && (!postgresBinDir() || !existsSync('/usr/bin/pg_dump'))) missing.push('postgresql');
  if (missing.length === 0) return;
  if (!isRoot) {
    throw new Error(
      `sandbox: missing system packages: ${missing.join(' ')}. Install them: sudo apt-get install -y ${missing.join(' ')}`,
    );
  }
  aptInstall(missing);
}
