/**
 * Redaction for what is read off a host (logs, command output): the secret-looking values of its env
 * file and the shapes of secrets nobody listed. Diagnose and the ops' logs share it.
 */
import { EnvFile } from '../envfile/envfile.js';
import { readRemoteEnv } from '../envfile/remote.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';

/** Bearer tokens, passwords in URLs, `password=` pairs: shapes of secrets nobody listed. */
export function redactShapes(text: string): string {
  return text
    .replace(/\b(Bearer|Basic|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 ***')
    .replace(/(\w+:\/\/[^:/\s@]*:)[^@\s/]+@/g, '$1***@')
    .replace(/\b((?:pass(?:word)?|secret|token|api[_-]?key)\s*[=:]\s*)[^\s&,;"']+/gi, '$1***');
}

/**
 * Env values worth masking: those of keys that name a secret, and long opaque ones. Masking every
 * value would hide the host's own address (HOST=127.0.0.1) and ports from the report that needs them.
 */
const PLAIN_VALUE = /^(true|false|yes|no|on|off|\d+(\.\d+)?)$/i;
const SECRET_KEY = /SECRET|KEY|TOKEN|PASS|PWD|AUTH|CREDENTIAL|PRIVATE|SIGNATURE|SALT|DSN|URL|URI/i;
const LONG_OPAQUE = 20;

export function secretLooking(key: string, value: string): boolean {
  if (value.length < 6 || PLAIN_VALUE.test(value)) return false;
  return SECRET_KEY.test(key) || value.length >= LONG_OPAQUE;
}

// Runs on the host: from `pm2 jlist` on stdin, prints the secret-looking values (secretLooking's rule,
// given as arguments) of the environment pm2 gives the named app — or every app — one JSON string a
// line; the shell's and pm2's own variables (PATH, HOME, PM2_*, SSH_*) and plain paths are not secrets.
// The app's own name and its traffic: nginx slots' (releases/traffic.ts isAppProcess).
const PM2_ENV_VALUES = `const [app,plain,key,long]=process.argv.slice(1);const P=new RegExp(plain,'i'),K=new RegExp(key,'i');let t='';
process.stdin.on('data',d=>t+=d).on('end',()=>{let a=[];try{a=JSON.parse(t.slice(t.indexOf('[')))}catch(e){}const out=new Set();
const OWN=/^(PATH|HOME|PWD|OLDPWD|SHELL|USER|LOGNAME|MAIL|LANG|LANGUAGE|LC_\\w+|TERM|SHLVL|_|PM2_\\w+|SSH_\\w+|XDG_\\w+|NODE_APP_INSTANCE|RELEASE_ID|GIT_SHA)$/;
for(const p of a){if(app&&p.name!==app&&p.name!==app+'-blue'&&p.name!==app+'-green')continue;const e=(p.pm2_env||{}).env||{};for(const [k,v] of Object.entries(e)){
if(typeof v!=='string'||v.length<6||P.test(v)||OWN.test(k))continue;const named=K.test(k);if(named||(v.length>=Number(long)&&!v.startsWith('/')))out.add(v)}}
for(const v of out)console.log(JSON.stringify(v))})`;

/**
 * Masks the secret-looking values of the app's pm2 environment (every app's when none is named): a
 * secret only pm2 holds (never in the env file) that the app prints into its log. Read on the host;
 * only those values come back, and each is masked the moment it arrives. false: pm2 could not say.
 */
export async function maskPm2EnvValues(
  session: SshSession,
  app: string | undefined,
  mask: (value: string) => void,
): Promise<boolean> {
  const result = await session
    .run(
      "read the secret-looking values of the app's pm2 environment, to redact them",
      sh`home=\${PM2_HOME:-$HOME/.pm2}; [ -f "$home/pm2.pid" ] && kill -0 "$(cat "$home/pm2.pid")" 2>/dev/null || exit 3
PM2_DISCRETE_MODE=true pm2 jlist 2>/dev/null | node -e ${PM2_ENV_VALUES} ${app ?? ''} ${PLAIN_VALUE.source} ${SECRET_KEY.source} ${String(LONG_OPAQUE)}`,
      { okCodes: [3] },
    )
    .catch(() => undefined);
  if (!result || result.code !== 0) return false;
  for (const line of result.stdout.split('\n')) {
    if (!line) continue;
    try {
      mask(JSON.parse(line) as string);
    } catch {
      // a torn line masks nothing; the shapes still apply
    }
  }
  return true;
}

/** Masks the env file's secret-looking values; false when the file could not be read. */
export async function maskEnvValues(
  session: SshSession,
  envFile: string,
  mask: (value: string) => void,
): Promise<boolean> {
  const text = await readRemoteEnv(session, envFile).catch(() => undefined);
  if (text === undefined) return false;
  const env = EnvFile.parse(text);
  for (const key of env.keys()) {
    const value = env.get(key);
    if (value && secretLooking(key, value)) mask(value);
  }
  return true;
}
