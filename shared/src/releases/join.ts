/**
 * Adding a host — the part of the runbook's Horizontal Scaling that is ours. A fresh droplet (Node and
 * pm2 present) gets the app directory laid out; the release live on the fleet, and the shared files it
 * links (`.env` and the like), are copied from a fleet host to it over SSH, through this process's
 * memory only (ssh/host-to-host.ts); the release is started there and health-gated like any deploy;
 * only then is the host reported ready for the load balancer. Refused, with nothing changed anywhere:
 * a fleet not on one release, a new host whose Node major differs from the fleet's (its node_modules
 * were built for that one), a host that already serves something. The fleet's leases are held
 * throughout, so no deploy moves the fleet on while its release is being copied.
 */
import { uncancellable, throwIfCancelled } from '../cancel.js';
import { OperationError, errorText } from '../errors.js';
import { formatBytes } from '../config/parse.js';
import { copyBetweenHosts } from '../ssh/host-to-host.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import type { SshTarget } from '../ssh/target.js';
import { discardPartial } from './disk.js';
import { recordOf } from './entry.js';
import { healthUrlFor } from './host-url.js';
import {
  closeHost,
  hostRuns,
  liveStore,
  openHosts,
  summary,
  type DeployDeps,
  type HostReport,
  type HostRun,
  type ReleaseTarget,
} from './host-run.js';
import { releaseDir } from './layout.js';
import { deleteApp } from './pm2.js';
import type { ReleaseStore } from './store.js';
import { HealthGateFailed, readBefore, switchAndVerify, verifyRunning } from './switch-verify.js';

export interface JoinOptions extends ReleaseTarget {
  /** The new host; `hosts` are the fleet it joins. */
  join: SshTarget;
  /** Bound on copying the release and shared files from the fleet. */
  copyTimeoutMs: number;
  dryRun: boolean;
}

export interface JoinReport {
  /** The new host. */
  host: string;
  /** Served healthy on the new host: it may go behind the load balancer. */
  ready: boolean;
  release?: string;
  sha?: string;
  /** The fleet host the release and shared files came from. */
  source?: string;
  copied?: { sharedFiles: string[]; sharedDirs: string[]; bytes: number };
  /** The new host's report, in the deploy's table. */
  hosts: HostReport[];
  plan: string[];
  durationMs: number;
  failure?: OperationError;
}

interface HostFacts {
  node?: string;
  pm2: boolean;
}

/** What the source host's live release links into shared/, and its size. */
interface ReleaseFacts {
  kilobytes: number;
  sharedFiles: string[];
  sharedDirs: string[];
  /** Links to shared files that are not there on the source: not copied, said. */
  dangling: string[];
}

const major = (version: string | undefined) => version?.split('.')[0];

export async function join(options: JoinOptions, deps: DeployDeps): Promise<JoinReport> {
  const now = deps.now ?? (() => new Date());
  const started = now().getTime();
  const runs = hostRuns({ hosts: [...options.hosts, options.join], appDir: options.appDir }, started);
  const joiner = runs.at(-1) as HostRun;
  const fleet = runs.slice(0, -1);
  const report: JoinReport = {
    host: joiner.name,
    ready: false,
    hosts: [joiner.report],
    plan: [],
    durationMs: 0,
  };
  const target: ReleaseTarget = { ...options, hosts: runs.map((run) => run.target) };
  try {
    // 1. Connect, lock and read every host; nothing changes anywhere if any of this refuses.
    await openHosts(runs, target, 'join', deps);
    const source = fleet[0] as HostRun;
    const live = fleetRelease(fleet, options);
    const [fleetFacts, joinerFacts] = await Promise.all(
      [source, joiner].map((run) => hostFacts(run.session as SshSession)),
    );
    refuseUnfit(joiner, joinerFacts as HostFacts, fleetFacts as HostFacts, source, live, options);
    const sha = source.state?.releases.find((r) => r.id === live)?.sha;
    const release = await releaseFacts(source, live, options);
    refuseShort(joiner, release, options);
    Object.assign(report, { release: live, source: source.name, ...(sha ? { sha } : {}) });
    joiner.release = live;
    joiner.report.release = live;
    const recorded = source.state?.history.get(live)?.entry;
    if (recorded) joiner.entry = { ...recorded, source: `as ${source.name} runs it` };
    report.plan = planJoin(joiner, source, live, release, options);
    await deps.log.group('Plan', async () => report.plan.forEach((line) => deps.log.info(line)));
    if (release.dangling.length > 0)
      deps.log.warn(
        `${source.name}: ${release.dangling.join(', ')} ${release.dangling.length === 1 ? 'is a link' : 'are links'} to nothing there: not copied`,
      );
    if (options.dryRun) {
      joiner.report.outcome = 'planned';
      return report;
    }
    throwIfCancelled(deps.signal);
    // What the fleet serves decides whether a version is required of the new host (not its silence).
    if (sha && options.versionCheck === 'auto' && !options.health.expectedVersion)
      joiner.before = await readBefore(source, target, deps).catch(() => undefined);
    if (joiner.state?.current === live && pm2Runs(joiner, options)) {
      // Joined before (a run that stopped short of the load balancer): proven again, nothing changed.
      const health = await verifyRunning(joiner, joiner.session as SshSession, sha, target, deps);
      Object.assign(joiner.report, { outcome: 'deployed', verified: true, health: summary(health) });
      deps.log.info(`${joiner.name}: serves ${live} already (joined before); proven healthy again`);
      report.ready = true;
      return report;
    }

    // 2. The fleet's release and shared files, host to host. A failed copy leaves nothing half-made.
    const bytes = await deps.log.group(`${joiner.name}: copy ${live} from ${source.name}`, () =>
      copyRelease(source, joiner, live, release, options, deps),
    );
    report.copied = { sharedFiles: release.sharedFiles, sharedDirs: release.sharedDirs, bytes };
    deps.log.info(`${joiner.name}: ${formatBytes(bytes)} copied from ${source.name}`);
    throwIfCancelled(deps.signal);

    // 3. Start it and prove it, as a deploy does.
    try {
      const health = await deps.log.group(`${joiner.name}: start ${live}`, () =>
        switchAndVerify(joiner, live, sha, undefined, target, deps),
      );
      joiner.report.health = summary(health);
    } catch (error) {
      joiner.report.outcome = 'failed';
      joiner.report.error = errorText(error);
      if (error instanceof HealthGateFailed) joiner.report.health = summary(error.health);
      await takeOut(joiner, target, deps, errorText(error));
      throw error instanceof OperationError
        ? new OperationError(
            `${joiner.name} did not join: ${error.message.replace(/\.$/, '')}. It was taken out again (nothing runs there) and is NOT ready for the load balancer; the fleet was not touched.`,
            error.hint,
            { cause: error },
          )
        : error;
    }
    await (joiner.store as ReleaseStore).log({
      time: new Date().toISOString(),
      host: joiner.name,
      release: live,
      ...(sha ? { sha } : {}),
      outcome: 'deployed',
      ...(joiner.entry ? { entry: recordOf(joiner.entry) } : {}),
      actor: options.holder.actor,
      runUrl: options.holder.runUrl,
      reason: `joined the fleet from ${source.name}`,
    });
    Object.assign(joiner.report, { outcome: 'deployed', verified: true });
    report.ready = true;
    return report;
  } catch (error) {
    if (!(error instanceof OperationError)) throw error;
    report.failure = error;
    return report;
  } finally {
    await Promise.all(runs.map((run) => closeHost(run, target, deps.log)));
    joiner.report.durationMs = now().getTime() - started;
    report.durationMs = now().getTime() - started;
  }
}

async function hostFacts(session: SshSession): Promise<HostFacts> {
  const { stdout } = await session.run(
    'read node and pm2 versions',
    sh`printf 'node\\t%s\\n' "$(node -p process.versions.node 2>/dev/null)"; if command -v pm2 >/dev/null 2>&1; then echo pm2; fi`,
  );
  const node = /^node\t(\d+\.\S+)$/m.exec(stdout)?.[1];
  return { ...(node ? { node } : {}), pm2: /^pm2$/m.test(stdout) };
}

/** The one release every fleet host serves; refused when they disagree or serve nothing of ours. */
function fleetRelease(fleet: HostRun[], options: JoinOptions): string {
  const currents = fleet.map((run) => ({ run, current: run.state?.current }));
  const without = currents.filter((c) => !c.current || c.run.state?.currentMissing);
  if (without.length > 0)
    throw new OperationError(
      `${without.map((c) => c.run.name).join(', ')} ${without.length === 1 ? 'has' : 'have'} no live release in ${options.appDir}/current: there is nothing to copy to the new host. Nothing was changed.`,
      'deploy the fleet first (a join copies what the fleet serves), or list in hosts only hosts that serve the app.',
    );
  const releases = [...new Set(currents.map((c) => c.current as string))];
  if (releases.length > 1)
    throw new OperationError(
      `the fleet is not on one release (${currents.map((c) => `${c.run.name}: ${c.current}`).join(', ')}): a new host would serve one of two versions. Nothing was changed.`,
      'finish the rollout (deploy again) or roll the fleet back to one release first, then join.',
    );
  return releases[0] as string;
}

function refuseUnfit(
  joiner: HostRun,
  mine: HostFacts,
  fleet: HostFacts,
  source: HostRun,
  live: string,
  options: JoinOptions,
): void {
  const nothing = 'Nothing was changed.';
  if (!mine.node)
    throw new OperationError(
      `${joiner.name}: node is not found on the PATH of ${joiner.target.user}'s commands. ${nothing}`,
      `install Node ${fleet.node ?? ''} on the droplet (nodesource, or nvm with its PATH in the non-interactive part of ~/.bashrc), then join again.`,
    );
  if (major(mine.node) !== major(fleet.node))
    throw new OperationError(
      `${joiner.name} runs Node ${mine.node}, the fleet (${source.name}) Node ${fleet.node ?? 'unknown'}: the release's node_modules were installed for Node ${major(fleet.node) ?? '?'} and may not load on another major. ${nothing}`,
      `install Node ${major(fleet.node)} on ${joiner.name} (the fleet's major), then join again.`,
    );
  if (!mine.pm2)
    throw new OperationError(
      `${joiner.name}: pm2 is not found on the PATH of ${joiner.target.user}'s commands. ${nothing}`,
      'install it (`npm install -g pm2`), then join again.',
    );
  const state = joiner.state;
  if (state?.layout === 'legacy' || (state?.current && state.current !== live))
    throw new OperationError(
      `${joiner.name}: ${options.appDir} already holds an app (${state.current ? `current is ${state.current}` : 'the legacy layout'}), so it is not a fresh host. ${nothing}`,
      'to bring it to the fleet’s release, add it to hosts and deploy; to join it fresh, remove the app directory first.',
    );
  if (state?.current !== live && pm2Runs(joiner, options))
    throw new OperationError(
      `${joiner.name}: pm2 already runs an app named ${options.pm2.name} there, so it is not a fresh host. ${nothing}`,
      `\`pm2 delete ${options.pm2.name}\` on it if that process is a leftover, or add the host to hosts and deploy.`,
    );
}

const pm2Runs = (run: HostRun, options: JoinOptions) =>
  run.processes?.some((p) => p.name === options.pm2.name) ?? false;

async function releaseFacts(source: HostRun, live: string, options: JoinOptions): Promise<ReleaseFacts> {
  const store = source.store as ReleaseStore;
  const dir = `releases/${live}`;
  const { stdout } = await (source.session as SshSession).run(
    'read the live release',
    sh`cd -- ${options.appDir} && printf 'size\\t%s\\n' "$(du -sk -- ${dir} | cut -f1)" && find ${dir} -path ${`${dir}/node_modules`} -prune -o -type l -print | while IFS= read -r l; do
  if [ -d "$l" ]; then k=dir; elif [ -e "$l" ]; then k=file; else k=missing; fi
  printf 'link\\t%s\\t%s\\n' "$k" "$(readlink -- "$l")"
done`,
  );
  const facts: ReleaseFacts = { kilobytes: 0, sharedFiles: [], sharedDirs: [], dangling: [] };
  const shared = `${store.paths.shared}/`;
  for (const line of stdout.split('\n')) {
    const [kind, a = '', b = ''] = line.split('\t');
    if (kind === 'size') facts.kilobytes = Number(a) || 0;
    if (kind !== 'link' || !b.startsWith(shared)) continue;
    const path = `shared/${b.slice(shared.length)}`;
    if (a === 'file') facts.sharedFiles.push(path);
    else if (a === 'dir') facts.sharedDirs.push(path);
    else facts.dangling.push(path);
  }
  return facts;
}

function refuseShort(joiner: HostRun, release: ReleaseFacts, options: JoinOptions): void {
  const need = Math.ceil(release.kilobytes * 1024 * 1.1 + 16 * 1024 * 1024);
  const free = joiner.state?.freeBytes;
  if (free !== undefined && free < need)
    throw new OperationError(
      `not enough disk space on ${joiner.name}: the release needs ${formatBytes(need)} (with a margin), ${formatBytes(free)} is free for ${options.appDir}. Nothing was changed.`,
      `free space on ${joiner.name} (\`df -h\`) or give the droplet a bigger disk, then join again.`,
    );
}

function planJoin(
  joiner: HostRun,
  source: HostRun,
  live: string,
  release: ReleaseFacts,
  options: JoinOptions,
): string[] {
  return [
    `${joiner.name}: Node and pm2 checked (the fleet's Node major); ${options.appDir} laid out (releases/, shared/)`,
    `copy ${live} (${formatBytes(release.kilobytes * 1024)}) and ${release.sharedFiles.join(', ') || 'no shared files'} from ${source.name} to ${joiner.name} over SSH, through memory only${release.sharedDirs.length ? `; ${release.sharedDirs.join(', ')} created empty (their contents are each host's own)` : ''}`,
    `${joiner.name}: current → releases/${live}; pm2 start ${options.pm2.name}; verify ${healthUrlFor(options.healthUrls, joiner.index, joiner.target).href} answers healthy from the new process`,
    `then ${joiner.name} is reported ready: add it to the load balancer by hand (DigitalOcean → Networking → Load Balancers)`,
  ];
}

/** Copies the release directory and the linked shared files; on failure removes the half-copied release. */
async function copyRelease(
  source: HostRun,
  joiner: HostRun,
  live: string,
  release: ReleaseFacts,
  options: JoinOptions,
  deps: DeployDeps,
): Promise<number> {
  const session = joiner.session as SshSession;
  const paths = (joiner.store as ReleaseStore).paths;
  const dir = releaseDir(paths, live);
  // A release left by an earlier join that failed is copied afresh: it never served here.
  await session.run(
    'lay out the app directory',
    sh`rm -rf -- ${dir} && mkdir -p -- ${paths.releases} ${paths.shared} ${paths.meta} ${release.sharedDirs.map((d) => `${paths.root}/${d}`)}`,
  );
  try {
    return await copyBetweenHosts(
      {
        session: source.session as SshSession,
        step: `read ${live} and the shared files`,
        command: sh`cd -- ${(source.store as ReleaseStore).paths.root} && tar -cf - -- ${`releases/${live}`} ${release.sharedFiles}`,
      },
      {
        session,
        step: `write ${live} and the shared files`,
        command: sh`cd -- ${paths.root} && tar -xpf -`,
      },
      { timeoutMs: options.copyTimeoutMs, ...(deps.signal ? { signal: deps.signal } : {}) },
    );
  } catch (error) {
    throw await discardPartial(session, options.appDir, [dir], error);
  }
}

/** A failed join leaves nothing running on the new host and no `current`; the copied files stay for a look. */
async function takeOut(
  joiner: HostRun,
  target: ReleaseTarget,
  deps: DeployDeps,
  reason: string,
): Promise<void> {
  const way = uncancellable(deps);
  try {
    const { session, store } = await liveStore(joiner, target, way.log);
    await deleteApp(session, target.pm2.name);
    await store.unsetCurrent(joiner.release as string);
    joiner.report.restored = true;
    joiner.report.switched = false;
    way.log.warn(
      `${joiner.name}: join failed (${reason.split('\n')[0]}); ${target.pm2.name} is stopped there and current removed`,
    );
  } catch (error) {
    joiner.report.error = [joiner.report.error, `taking it out: ${errorText(error)}`].join('; ');
  }
}
