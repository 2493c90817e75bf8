/**
 * Zero-outage verification for fork mode (where pm2's restart leaves a gap): before the switch,
 * the new release runs as a separate pm2 process on a spare port of the host, told through an
 * environment variable (PORT by default; dotenv does not override a variable already set, so an app
 * that reads PORT from .env still gets this one). It is health-checked there through the SSH
 * connection — the port need not be open to the runner — and deleted. Only a release that proved
 * healthy on the side is switched to, so a release that crashes at start costs users nothing.
 */
import { OperationError } from '../errors.js';
import { verifyHealth, type HealthReport } from '../health/verify.js';
import type { ProbeRecord } from '../health/probe.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import { healthUrlFor } from './host-url.js';
import type { DeployDeps, HostRun, ReleaseTarget } from './host-run.js';
import type { ReleaseStore } from './store.js';
import { releaseDir } from './layout.js';
import type { AppEntry } from './entry.js';
import { entryStartOptions } from './pm2.js';
import { versionExpectation } from './switch-verify.js';
import type { DeployOptions } from './strategy.js';

/** Asks the host's kernel for a free port (node is there: pm2 runs on it). */
const SPARE_PORT =
  "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})";

/** The health URL's path and query, on the app's spare port on the host itself. */
export function preflightUrl(healthUrl: URL, port: number): URL {
  return new URL(`${healthUrl.pathname}${healthUrl.search}`, `http://127.0.0.1:${port}`);
}

/**
 * The health gate on a port of the host itself (a preflight, a traffic: nginx slot), through the SSH
 * connection: nothing but sshd need be open to the runner.
 */
export function healthOnHostPort(
  run: HostRun,
  session: SshSession,
  target: ReleaseTarget,
  port: number,
  sha: string | undefined,
  before: ProbeRecord | undefined,
  deps: DeployDeps,
): Promise<HealthReport> {
  return verifyHealth(
    {
      ...target.health,
      urls: [preflightUrl(healthUrlFor(target.healthUrls, run.index, run.target), port)],
      ...versionExpectation(target, sha, before),
      tunnel: (host, p) => session.forward(host, p),
    },
    deps,
  );
}

export async function preflightRelease(
  run: HostRun,
  options: DeployOptions,
  deps: DeployDeps,
  preflight: { portEnv: string },
): Promise<void> {
  const session = run.session as SshSession;
  const store = run.store as ReleaseStore;
  const release = run.release as string;
  const dir = releaseDir(store.paths, release);
  const name = `${options.pm2.name}-preflight`;
  const entry = run.entry as AppEntry;
  const { stdout } = await session.run('find a spare port', sh`node -e ${SPARE_PORT}`);
  const port = Number(stdout.trim());
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no spare port on ${run.name}: ${stdout.trim()}`);
  const env = [`${preflight.portEnv}=${port}`, `RELEASE_ID=${release}`, `GIT_SHA=${options.sha}`];
  const url = preflightUrl(healthUrlFor(options.healthUrls, run.index, run.target), port);
  deps.log.info(
    `${run.name}: starting ${release} as ${name} on port ${port} (${preflight.portEnv}) to check ${url.pathname}`,
  );
  try {
    await session.run('pm2 delete an old preflight', sh`pm2 delete ${name}`, { okCodes: [1] });
    await session.run(
      'pm2 start preflight',
      sh`cd -- ${dir} && env ${[...Object.entries(entry.env).map(([n, v]) => `${n}=${v}`), ...env]} pm2 start ${`${dir}/${entry.script}`} --name ${name} --cwd ${dir} --update-env --no-autorestart ${entryStartOptions(entry)}`,
      { timeoutMs: 120_000 },
    );
    const health = await healthOnHostPort(run, session, options, port, options.sha, undefined, deps);
    if (!health.healthy) {
      // Its log stays on the host (pm2 keeps it after delete); app output is not copied here, it may hold secrets.
      throw new OperationError(
        `${run.name}: ${release} failed its preflight on port ${port} and was never switched to; production is unchanged. ${health.failure ?? ''}`,
        `read its log on the host (\`tail -n 50 $PM2_HOME/logs/${name}-error.log\`, default ~/.pm2). The app must listen on the port given in ${preflight.portEnv} (set preflight-port-env to the variable it reads); otherwise fix the release and deploy again.`,
      );
    }
  } finally {
    await session
      .run('pm2 delete preflight', sh`pm2 delete ${name}`, { okCodes: [1] })
      .catch(() => undefined);
  }
}
