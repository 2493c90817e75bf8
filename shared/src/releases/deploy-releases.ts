/** The releases/ + current layout's deploy verbs (Deployer's and Capistrano's layout). */
import type { SshSession } from '../ssh/session.js';
import { installer } from './install.js';
import { forgetReplaced } from './pm2.js';
import { describeEntry, recordOf } from './entry.js';
import { healthUrlFor } from './host-url.js';
import { reachAgain, type DeployDeps, type HostRun } from './host-run.js';
import { appPaths, releaseDir } from './layout.js';
import { preflightRelease } from './preflight.js';
import type { ReleaseStore } from './store.js';
import type { DeployOptions, DeployStrategy } from './strategy.js';
import { restorePrevious, switchAndVerify } from './switch-verify.js';

export function releasesStrategy(options: DeployOptions, deps: DeployDeps): DeployStrategy {
  const storeOf = (run: HostRun) => run.store as ReleaseStore;
  return {
    plan(run) {
      const previous = run.state?.current ?? '(none: first deploy)';
      return (
        `${run.name}: upload ${options.artifact} → ${releaseDir(appPaths(options.appDir), run.release ?? '?')}` +
        `${options.installCommand ? `; install (${options.installCommand})` : ''}; find the entry point (${options.pm2.script ?? 'ecosystem file, package.json start/main, server.js'}); link ${[...options.linkedFiles, ...options.linkedDirs].join(', ') || 'nothing'}` +
        `${options.preflight ? `; start it beside the running app on a spare port (${options.preflight.portEnv}) and prove it healthy there` : ''}` +
        (options.traffic
          ? `; start it in the idle slot (${options.pm2.name}-blue or -green) beside the live one, gate it on its own port through SSH; point nginx's upstream (${options.traffic.upstreamFile}) at it and switch current from ${previous}, nginx -t, reload`
          : `; switch current from ${previous} to ${run.release}; pm2 ${run.state?.current ? 'reload/restart' : 'start'} ${options.pm2.name}`) +
        `; verify ${healthUrlFor(options.healthUrls, run.index, run.target).href} answers healthy from the new process (pm2 pid, start time, cwd)${options.versionCheck === 'off' ? '' : `, serving ${options.sha} if it serves a version`}; keep ${options.keepReleases} releases`
      );
    },

    async prepare(run, packed) {
      const session = run.session as SshSession;
      const prepared = await storeOf(run).prepare(
        {
          id: run.release as string,
          sha: options.sha,
          tarball: packed.tarball,
          linkedFiles: options.linkedFiles,
          linkedDirs: options.linkedDirs,
          appName: options.pm2.name,
          ...(options.pm2.script ? { script: options.pm2.script } : {}),
          migrations: options.migrations,
        },
        installer(session, options, deps),
      );
      run.nextDir = prepared.dir;
      run.entry = prepared.entry;
      deps.log.info(`${run.name}: entry ${describeEntry(prepared.entry)}`);
      if (options.preflight) {
        await deps.log.group(`${run.name}: preflight of ${run.release}`, () =>
          preflightRelease(run, options, deps, options.preflight as { portEnv: string }),
        );
      }
    },

    preSwitchDir: (run) => releaseDir(storeOf(run).paths, run.release as string),

    switchAndVerify: (run) =>
      switchAndVerify(run, run.release as string, options.sha, run.previous, options, deps),

    restore: (run, reason) => restorePrevious(run, options, deps, reason),

    async abandon(run, reason) {
      if (!run.release || !run.lease) return;
      // A connection lost during prepare is tried again, briefly: the mark keeps rollbacks off it.
      await reachAgain(run, options, deps.log, { attempts: options.ssh.connectAttempts });
      await storeOf(run).markBad(run.release, reason, options.holder.actor, 'abandoned');
    },

    async finish(run) {
      const store = storeOf(run);
      await store.log({
        time: new Date().toISOString(),
        host: run.name,
        release: run.release as string,
        sha: options.sha,
        outcome: 'deployed',
        ...(run.previous ? { from: run.previous } : {}),
        ...(run.entry ? { entry: recordOf(run.entry) } : {}),
        ...(options.migrations.length ? { migrations: options.migrations } : {}),
        actor: options.holder.actor,
        runUrl: options.holder.runUrl,
      });
      await forgetReplaced(run.session as SshSession, store.paths);
      const state = await store.state();
      run.report.pruned = await store.prune(state, options.keepReleases, run.previous ? [run.previous] : []);
    },
  };
}
