/**
 * The proof that needs no endpoint: the running app's own environment (`/proc/<pid>/environ`, the
 * environment pm2 started it with) holds the value. Compared on the host by SHA-256 — the hashes go
 * in on stdin, only the names that differ come back — so no value is ever printed or sent back.
 * dotenv never overrides a variable pm2 already passes, so what pm2 gave the process is what it uses.
 */
import { createHash } from 'node:crypto';
import { OperationError } from '../errors.js';
import { pm2List, type Pm2Process } from '../releases/pm2.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';

// Runs on the host (node is there: pm2 runs on it). stdin: {"pids":[…],"hashes":{NAME: hex or ""}}.
const COMPARE = `const fs=require('fs'),c=require('crypto');let t='';process.stdin.on('data',d=>t+=d).on('end',()=>{const w=JSON.parse(t);const out=[];
for(const pid of w.pids){let raw;try{raw=fs.readFileSync('/proc/'+pid+'/environ')}catch(e){out.push([pid,'*unreadable*']);continue}
const vars={};for(const kv of raw.toString('utf8').split('\\0')){const i=kv.indexOf('=');if(i>0)vars[kv.slice(0,i)]=kv.slice(i+1)}
for(const [n,h] of Object.entries(w.hashes)){const v=vars[n];const got=v===undefined||v===''?'':c.createHash('sha256').update(v,'utf8').digest('hex');if(got!==h)out.push([pid,n])}}
console.log(JSON.stringify(out))})`;

/** SHA-256 of a value as the host computes it; '' for a value that must be empty or absent. */
function hashOf(value: string): string {
  return value === '' ? '' : createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * Throws unless every pm2 process of `app` on the host holds exactly `values` in its environment
 * ('' meaning empty or unset).
 */
export async function processHolds(
  session: SshSession,
  app: string,
  values: Record<string, string>,
  /** The app's processes as just read (verifyRunning's list); pm2 is asked when not given. */
  running?: Pm2Process[],
): Promise<void> {
  const pids = (running ?? (await pm2List(session)))
    .filter((p) => p.name === app && p.pid > 0)
    .map((p) => p.pid);
  if (pids.length === 0)
    throw new OperationError(
      `${session.name}: pm2 runs no process of ${app} to read the environment of.`,
      `read \`pm2 logs ${app} --err\` on the host.`,
    );
  const hashes = Object.fromEntries(Object.entries(values).map(([name, value]) => [name, hashOf(value)]));
  const { stdout } = await session.run("compare the running app's environment", sh`node -e ${COMPARE}`, {
    stdin: JSON.stringify({ pids, hashes }),
  });
  const differs = JSON.parse(stdout.trim() || '[]') as [number, string][];
  if (differs.length === 0) return;
  const unreadable = differs.filter(([, name]) => name === '*unreadable*');
  throw new OperationError(
    unreadable.length
      ? `${session.name}: the environment of ${app}'s process ${unreadable.map(([pid]) => pid).join(', ')} cannot be read (another user's process?): the new value is not proven to be in the app.`
      : `${session.name}: ${app}'s process ${[...new Set(differs.map(([pid]) => pid))].join(', ')} does not hold the new ${[...new Set(differs.map(([, n]) => n))].join(', ')} in its environment: the running app still uses the old value.`,
    'pm2 must be restarted with --update-env for the app to get a new value (dotenv does not override what pm2 passes); check that nothing else starts the app (a systemd unit, `pm2 resurrect`).',
  );
}
