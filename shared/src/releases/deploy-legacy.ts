/** The runbook's own layout's deploy verbs: new code into <app-dir>, the old into <app-dir>-previous. */
import { uncancellable } from '../cancel.js';
import { OperationError, errorText } from '../errors.js';
import type { SshSession } from '../ssh/session.js';
import { installer } from './install.js';
import { describeEntry, type AppEntry } from './entry.js';
import { healthUrlFor } from './host-url.js';
import { liveStore, summary, type DeployDeps } from './host-run.js';
import {
  legacyPrevious,
  prepareLegacy,
  readLegacyState,
  restartLegacy,
  swapLegacy,
  switchLegacy,
} from './legacy.js';
import { deleteApp } from './pm2.js';
import type { DeployOptions, DeployStrategy } from './strategy.js';
import { verifyRunning } from './switch-verify.js';

export function legacyStrategy(options: DeployOptions, deps: DeployDeps): DeployStrategy {
  const now = deps.now ?? (() => new Date());
  return {
    plan: (run) =>
      `${run.name}: unpack ${options.artifact} into ${options.appDir}-next-${run.release}, copy ${[...options.linkedFiles, ...options.linkedDirs].join(', ') || 'nothing'} from ${options.appDir}` +
      `${options.installCommand ? `; install (${options.installCommand})` : ''}; find the entry point (${options.pm2.script ?? 'package.json, ecosystem file'}); remove ${options.appDir}-previous; move ${options.appDir} to -previous and the new code into place; pm2 restart ${options.pm2.name}` +
      `; verify ${healthUrlFor(options.healthUrls, run.index, run.target).href} serves ${options.sha}; on failure move it aside and -previous back`,

    async prepare(run, packed) {
      const session = run.session as SshSession;
      const prepared = await prepareLegacy(
        session,
        {
          appDir: options.appDir,
          sha: options.sha,
          tarball: packed.tarball,
          linkedFiles: options.linkedFiles,
          linkedDirs: options.linkedDirs,
          appName: options.pm2.name,
          ...(options.pm2.script ? { script: options.pm2.script } : {}),
        },
        run.release as string,
        installer(session, options, deps),
      );
      run.nextDir = prepared.dir;
      run.entry = prepared.entry;
      deps.log.info(`${run.name}: entry ${describeEntry(prepared.entry)}`);
    },

    preSwitchDir: (run) => run.nextDir as string,

    async switchAndVerify(run) {
      const session = run.session as SshSession;
      run.previous = (await readLegacyState(session, options.appDir)).app
        ? legacyPrevious(options.appDir)
        : undefined;
      run.report.previousRelease = run.previous;
      run.report.pm2 = await switchLegacy(
        session,
        options.appDir,
        run.nextDir as string,
        options.pm2.name,
        run.entry as AppEntry,
        { RELEASE_ID: run.release as string, GIT_SHA: options.sha },
      );
      run.switched = true;
      run.report.switched = true;
      return verifyRunning(run, session, options.sha, options, deps);
    },

    /** The runbook's rollback, verified: the failed code goes to <app-dir>-broken-<time>, -previous back. */
    async restore(run) {
      const calm = uncancellable(deps); // the way back is never cancelled
      if (!run.switched) return;
      const { session } = await liveStore(run, options, deps.log);
      if (!run.previous) {
        await deleteApp(session, options.pm2.name);
        run.report.restored = true;
        run.report.outcome = 'rolled-back';
        return;
      }
      await swapLegacy(session, options.appDir, now());
      run.report.restored = true;
      await restartLegacy(session, options.pm2.name, {});
      try {
        run.report.rollbackHealth = summary(await verifyRunning(run, session, undefined, options, calm));
      } catch (error) {
        run.report.rollbackHealth = { healthy: false, attempts: 0, failure: errorText(error) };
        throw new OperationError(
          `${run.name}: switched back to ${run.previous}, but it does not prove healthy either: ${errorText(error)}`,
          'this is an incident: check the database, Redis and `pm2 logs` on the host now.',
        );
      }
      run.report.verified = true;
      run.report.outcome = 'rolled-back';
    },

    // The next directory is removed by the next deploy's prepare; nothing serves from it.
    abandon: async () => undefined,
    finish: async () => undefined,
  };
}
