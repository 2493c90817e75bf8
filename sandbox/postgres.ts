/**
 * A throwaway PostgreSQL cluster from the system binaries: random port, 127.0.0.1 only, its own
 * socket directory, fsync off. As root it runs as the `postgres` OS user (initdb refuses root).
 * Local socket connections are trusted; TCP needs the password, as on the droplet.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from './net.js';
import type { ProcessTracker } from './processes.js';
import { ensureSystemPrograms, isRoot, postgresBinDir } from './system.js';

export interface SandboxPostgres {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** postgresql://user:password@127.0.0.1:port/database — the password is a secret. */
  url: string;
  /** Superuser connection over the socket directory (no password), for fixtures. */
  superuserUrl: string;
  binDir: string;
  dataDir: string;
  socketDir: string;
  pid: number;
}

function ownerIds(): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

export async function startPostgres(root: string, tracker: ProcessTracker): Promise<SandboxPostgres> {
  ensureSystemPrograms({ postgres: true });
  const binDir = postgresBinDir() as string;
  const base = join(root, 'postgres');
  const dataDir = join(base, 'data');
  const socketDir = join(base, 'run');
  mkdirSync(socketDir, { recursive: true });
  const owner = ownerIds();
  if (owner) for (const dir of [base, socketDir]) chownSync(dir, owner.uid, owner.gid);
  const asOwner = (program: string, args: string[]) =>
    isRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(binDir, program), ...args], { stdio: 'pipe' })
      : execFileSync(join(binDir, program), args, { stdio: 'pipe' });

  const password = randomBytes(18).toString('base64url');
  const pwFile = join(base, 'pwfile');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (owner) chownSync(pwFile, owner.uid, owner.gid);
  asOwner('initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    `--pwfile=${pwFile}`,
    '-E',
    'UTF8',
    '--no-sync',
    '--locale=C.UTF-8',
  ]);

  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${socketDir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
  ].join(' ');
  asOwner('pg_ctl', [
    '-D',
    dataDir,
    '-o',
    options,
    '-l',
    join(base, 'server.log'),
    '-w',
    '-t',
    '30',
    'start',
  ]);
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  tracker.add({
    pid,
    name: 'postgres',
    stop: async () => {
      asOwner('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '10', 'stop']);
    },
  });

  // The application's own role and database, as on the droplet; the postgres role gets the same password.
  const psql = (sql: string) =>
    execFileSync(
      join(binDir, 'psql'),
      [
        '-h',
        socketDir,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        'postgres',
        '-v',
        'ON_ERROR_STOP=1',
        '-q',
        '-c',
        sql,
      ],
      { stdio: 'pipe' },
    );
  psql(`CREATE ROLE bunty LOGIN PASSWORD '${password}'`);
  psql('CREATE DATABASE bunty OWNER bunty');

  return {
    host: '127.0.0.1',
    port,
    database: 'bunty',
    user: 'bunty',
    password,
    url: `postgresql://bunty:${password}@127.0.0.1:${port}/bunty`,
    superuserUrl: `postgresql://postgres@/postgres?host=${encodeURIComponent(socketDir)}&port=${port}`,
    binDir,
    dataDir,
    socketDir,
    pid,
  };
}
