/**
 * The system programs the sandbox needs, from the one list in system-packages.txt (which .ci/run uses
 * too, through preflight.ts). As root, the missing packages are installed from apt in one go, their
 * services kept from starting; as anyone else the sandbox stops at once with the exact apt-get line.
 * A missing program is named as missing, before anything starts — never found out as a timeout.
 *
 * Two variables simulate a fresh machine in tests: RUNBOOK_SANDBOX_HIDE (programs, comma-separated,
 * treated as not installed) and RUNBOOK_SANDBOX_INSTALL=never (report, never install, even as root).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const isRoot = process.getuid?.() === 0;

export const SSHD = '/usr/sbin/sshd';
const PG_ROOT = '/usr/lib/postgresql';
const LIST = join(dirname(fileURLToPath(import.meta.url)), 'system-packages.txt');
/** Where Debian keeps daemons: not on a plain user's PATH, but where sshd and nginx are. */
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export interface SystemPackage {
  name: string;
  programs: string[];
}

export function systemPackages(): SystemPackage[] {
  return readFileSync(LIST, 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((line) => {
      const [name, ...programs] = line.split(/\s+/);
      return { name: name as string, programs };
    });
}

function hidden(): Set<string> {
  return new Set(
    (process.env.RUNBOOK_SANDBOX_HIDE ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** A program on PATH or in sbin, or an absolute path whose `*` parts match one directory each. */
function present(program: string, hide: Set<string>): boolean {
  if (hide.has(basename(program))) return false;
  if (!program.startsWith('/')) {
    const dirs = [...(process.env.PATH ?? '').split(delimiter), ...SBIN].filter(Boolean);
    return dirs.some((dir) => isFile(join(dir, program)));
  }
  let candidates = ['/'];
  for (const part of program.split('/').filter(Boolean)) {
    candidates = candidates.flatMap((dir) => {
      if (part !== '*') return [join(dir, part)];
      try {
        return readdirSync(dir).map((entry) => join(dir, entry));
      } catch {
        return [];
      }
    });
  }
  return candidates.some(isFile);
}

export interface MissingPackage {
  name: string;
  /** The programs of it that were not found. */
  programs: string[];
}

/** The packages with a program not found, of those named (default: all of the list). */
export function missingPackages(only?: string[]): MissingPackage[] {
  const hide = hidden();
  return systemPackages()
    .filter((p) => !only || only.includes(p.name))
    .map((p) => ({ name: p.name, programs: p.programs.filter((program) => !present(program, hide)) }))
    .filter((p) => p.programs.length > 0);
}

/** The newest installed PostgreSQL server's bin directory, or undefined. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(PG_ROOT, versions[0], 'bin') : undefined;
}

function aptInstall(packages: string[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
  // policy-rc.d 101 keeps the packages from starting their system services: the sandbox runs its own.
  const policy = '/usr/sbin/policy-rc.d';
  const hadPolicy = existsSync(policy);
  if (!hadPolicy) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
      timeout: 900_000,
    });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(
      `sandbox: apt-get could not install ${packages.join(' ')}${stderr ? `: ${stderr.split('\n').slice(-3).join(' ')}` : ''}`,
      { cause: error },
    );
  } finally {
    if (!hadPolicy) rmSync(policy, { force: true });
  }
}

const describe = (missing: MissingPackage[]) =>
  missing
    .map((p) => `${p.name} (${p.programs.map((program) => basename(program)).join(', ')} not found)`)
    .join('; ');

/**
 * Makes sure the named packages' programs (default: the whole list) are there. As root, installs the
 * missing ones; otherwise — or with RUNBOOK_SANDBOX_INSTALL=never — throws naming each missing
 * program and the one apt-get line that installs them all. Returns what it installed.
 */
export function ensureSystemPackages(
  only?: string[],
  log: (line: string) => void = () => undefined,
): string[] {
  const missing = missingPackages(only);
  if (missing.length === 0) return [];
  const names = missing.map((p) => p.name);
  const line = `apt-get install -y --no-install-recommends ${names.join(' ')}`;
  if (!isRoot || process.env.RUNBOOK_SANDBOX_INSTALL === 'never')
    throw new Error(
      `sandbox: missing system packages: ${describe(missing)}. Install them first: ${isRoot ? '' : 'sudo '}${line} (as root the sandbox installs them itself).`,
    );
  log(`installing the missing system packages: ${names.join(' ')}`);
  aptInstall(names);
  const still = missingPackages(names);
  if (still.length) throw new Error(`sandbox: installed, yet still missing: ${describe(still)}.`);
  return names;
}

/** Makes sure each named program is present (see ensureSystemPackages). */
export function ensureSystemPrograms(needs: { sshd?: boolean; postgres?: boolean }): void {
  ensureSystemPackages([
    ...(needs.sshd ? ['openssh-server', 'openssh-client'] : []),
    ...(needs.postgres ? ['postgresql'] : []),
  ]);
}
