/**
 * The runbook's Key Commands and Emergency Procedures as operations an engineer can run half awake:
 * each prints its plan, refuses a destructive one unless `confirm` is typed, and proves its result —
 * restart / reload / start end with the health gate, stop with proof that nothing answers, set-env
 * (the fallback flags) puts every host back if the app does not come up healthy with the new values.
 * The deploy lease is held, so a deploy or a rotation cannot restart the app at the same time.
 */
import { throwIfCancelled, uncancellable } from '../cancel.js';
import { batchesOf, firstRejection } from '../fleet/parallel.js';
import { EnvFile, checkAppVariable } from '../envfile/envfile.js';
import { ConfigurationError, OperationError, errorText } from '../errors.js';
import { probeUrl } from '../health/probe.js';
import type { DeployDeps } from '../releases/host-run.js';
import { healthUrlFor } from '../releases/host-url.js';
import { entryOf, verifyRunning } from '../releases/switch-verify.js';
import { describeEntry, startProblems, type AppEntry } from '../releases/entry.js';
import { releaseDir } from '../releases/layout.js';
import { pm2List, runCurrentRelease } from '../releases/pm2.js';
import { restartLiveInSlot } from '../releases/slots.js';
import type { ReleaseStore } from '../releases/store.js';
import {
  changeHost,
  onSecretHosts,
  revertTouched,
  type SecretHost,
  type EnvHostsTarget,
} from '../secrets/secret-hosts.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import { stamp } from '../stamp.js';
import { secretLooking } from '../diagnose/redaction.js';
import { fingerprint } from '../secrets/value.js';

export const PM2_OPERATIONS = ['restart', 'reload', 'stop', 'start'] as const;
export type Pm2Operation = (typeof PM2_OPERATIONS)[number];

export interface HostResult {
  host: string;
  result: 'planned' | 'done' | 'failed' | 'reverted' | 'not-reverted' | 'untouched';
  detail: string;
}

export interface OpsReport {
  operation: string;
  plan: string[];
  hosts: HostResult[];
  failure?: OperationError;
  durationMs: number;
}

/** Destructive operations run only when `confirm` is exactly what is expected (the app or environment name). */
export function checkConfirmed(operation: string, confirm: string | undefined, expected: string): void {
  if (confirm !== expected)
    throw new ConfigurationError(
      'confirm',
      `${operation} is destructive: type ${JSON.stringify(expected)} (confirm-expected) as confirm to run it${confirm ? `; got ${JSON.stringify(confirm)}` : ''}.`,
    );
}

/** The report of an operation on the hosts, in the frame every procedure on them shares. */
function onHosts(
  target: EnvHostsTarget,
  operation: string,
  deps: DeployDeps,
  needEnvFile: boolean,
  body: (hosts: SecretHost[], report: OpsReport) => Promise<void>,
  needProcess = true,
): Promise<OpsReport> {
  const report: OpsReport = { operation, plan: [], hosts: [], durationMs: 0 };
  return onSecretHosts(target, operation, deps, report, async (open) =>
    body(await open(needEnvFile, needProcess), report),
  );
}

/** restart, reload, start (then the health gate) and stop (then proof that it stopped), host after host. */
export function pm2Operation(
  operation: Pm2Operation,
  target: EnvHostsTarget,
  deps: DeployDeps,
): Promise<OpsReport> {
  return onHosts(
    target,
    operation,
    deps,
    false,
    async (hosts, report) => {
      // An app pm2 does not run (deleted, a reboot without `pm2 save`) is started from app-dir's
      // current release with the entry the release log recorded for it.
      const starts = new Map<SecretHost, { release: string; entry: AppEntry; dir: string }>();
      // traffic: nginx: a restart is the live release started afresh in the other slot, then the
      // traffic moved to it and the old slot stopped — pm2's restart without its gap.
      const slotted = target.traffic !== undefined;
      if (slotted && (operation === 'stop' || operation === 'start'))
        throw new ConfigurationError(
          'traffic',
          `nginx: ${operation} acts on one pm2 app in place, and each release runs in a slot of its own here (${target.pm2.name}-blue, -green); use \`pm2 ${operation}\` on the host, or restart.`,
        );
      for (const h of hosts.filter((host) => host.absent && !slotted)) {
        if (operation === 'stop') continue;
        const store = h.run.store as ReleaseStore;
        // A mistyped app-name must not start a second copy of the app under that name.
        const other = h.run.processes?.find((p) => p.cwd === store.paths.current);
        if (other)
          throw new OperationError(
            `${h.run.name}: pm2 runs no app named ${target.pm2.name}, but runs ${other.name} from ${store.paths.current}. Nothing was changed.`,
            `check app-name (did you mean ${other.name}?).`,
          );
        h.run.state = await store.state();
        const release = h.run.state.current;
        if (!release)
          throw new OperationError(
            `${h.run.name}: pm2 runs no app named ${target.pm2.name}, and ${target.appDir} has no current release to start. Nothing was changed.`,
            'check app-name and app-dir; deploy the app (action-deploy) if it was never deployed here.',
          );
        const entry = await entryOf(h.run, release, target);
        const dir = releaseDir(store.paths, release);
        const problems = await startProblems(h.run.session as SshSession, dir, entry);
        if (problems.length)
          throw new OperationError(
            `${h.run.name}: pm2 runs no app named ${target.pm2.name}, and its current release ${release} cannot be started: ${problems.join('; ')}. Nothing was changed.`,
            'roll back to a release that can start (action-rollback with `release:`), or deploy again.',
          );
        starts.set(h, { release, entry, dir });
      }
      report.plan = hosts.map((h) => {
        if (slotted)
          return `${h.run.name}: start the live release afresh in the idle slot (${target.pm2.name}-blue or -green), gate it on its own port, move nginx's upstream to it, then stop the slot that served`;
        const start = starts.get(h);
        if (start)
          return `${h.run.name}: pm2 runs no ${target.pm2.name}: start ${start.release} (current) with ${describeEntry(start.entry)}, then the health gate and pm2's proof`;
        if (h.absent) return `${h.run.name}: pm2 runs no ${target.pm2.name}: already stopped`;
        return `${h.run.name}: pm2 ${operation} ${target.pm2.name}${operation === 'stop' ? '' : ' --update-env'}, then ${operation === 'stop' ? 'prove it stopped (pm2 status, health URL refuses)' : 'the health gate'}`;
      });
      await deps.log.group('Plan', async () => report.plan.forEach((l) => deps.log.info(l)));
      if (target.dryRun) {
        report.hosts = hosts.map((h) => ({ host: h.run.name, result: 'planned', detail: '' }));
        return;
      }
      // Rolling: the canary alone, then batches of max-parallel, each through its health gate before
      // the next; a failure (or a cancel) leaves the hosts not yet started alone.
      const one = async (h: SecretHost): Promise<void> => {
        const session = h.run.session as SshSession;
        const result: HostResult = { host: h.run.name, result: 'failed', detail: '' };
        report.hosts.push(result);
        try {
          await deps.log.group(`${h.run.name}: pm2 ${operation}`, async () => {
            const start = starts.get(h);
            if (slotted) {
              await restartLiveInSlot(h.run, target, uncancellable(deps), { fresh: true });
            } else if (start) {
              const sha = h.run.state?.releases.find((r) => r.id === start.release)?.sha;
              const store = h.run.store as ReleaseStore;
              await runCurrentRelease(session, store.paths, target.pm2, start.entry, {
                RELEASE_ID: start.release,
                ...(sha ? { GIT_SHA: sha } : {}),
              });
              await verifyRunning(h.run, session, undefined, target, uncancellable(deps), {
                releaseDir: start.dir,
              });
            } else if (h.absent) {
              await provenStopped(h, target);
            } else {
              await session.run(
                `pm2 ${operation}`,
                operation === 'stop'
                  ? sh`pm2 stop ${target.pm2.name}`
                  : sh`pm2 ${operation} ${target.pm2.name} --update-env`,
                { timeoutMs: 120_000 },
              );
              if (operation === 'stop') await provenStopped(h, target);
              else await verifyRunning(h.run, session, undefined, target, uncancellable(deps));
            }
          });
          result.result = 'done';
          result.detail =
            operation === 'stop'
              ? 'stopped: pm2 says stopped, the health URL refuses'
              : starts.has(h)
                ? `started ${starts.get(h)?.release} with its recorded entry: healthy, pm2 runs it from its directory`
                : 'healthy';
        } catch (error) {
          result.detail = errorText(error);
          throw new OperationError(
            `pm2 ${operation} of ${target.pm2.name} on ${h.run.name} did not end as it should: ${errorText(error)}`,
            operation === 'stop'
              ? 'check `pm2 status` on the host; something may restart the app (a systemd unit, a cron `pm2 resurrect`).'
              : 'run action-diagnose for why; roll back (action-rollback) if a deploy just happened.',
          );
        }
      };
      for (const batch of batchesOf(hosts, target)) {
        throwIfCancelled(deps.signal);
        const failure = firstRejection(await Promise.allSettled(batch.map(one)));
        if (failure instanceof OperationError) {
          const left = hosts.length - report.hosts.length;
          throw left > 0
            ? new OperationError(
                `${failure.message} The ${left} host(s) after it were left alone.`,
                failure.hint,
              )
            : failure;
        }
        if (failure) throw failure;
      }
    },
    false,
  );
}

async function provenStopped(h: SecretHost, target: EnvHostsTarget): Promise<void> {
  const processes = (await pm2List(h.run.session as SshSession)).filter((p) => p.name === target.pm2.name);
  const running = processes.filter((p) => p.status !== 'stopped');
  if (running.length)
    throw new OperationError(
      `pm2 still shows ${target.pm2.name} ${running.map((p) => p.status).join(', ')}`,
      '',
    );
  if (!target.healthUrls.length) return;
  const url = healthUrlFor(target.healthUrls, h.run.index, h.run.target);
  const probe = await probeUrl(url, 1, { ...target.health, urls: [url] }, () => new Date());
  if (!probe.refused)
    throw new OperationError(
      `${url.href} still answers (${probe.statusCode ?? probe.failure}): something else serves it`,
      '',
    );
}

export interface Setting {
  key: string;
  value: string;
}

/**
 * The runbook's fallback mode (`echo "PLAID_ENABLED=false" >> .env; pm2 restart`), done right: each
 * key set in place (every other byte of the file kept), pm2 restarted with the values exported
 * (--update-env), health verified; any failure puts every changed host back as found.
 */
export function setEnv(settings: Setting[], target: EnvHostsTarget, deps: DeployDeps): Promise<OpsReport> {
  return onHosts(target, 'set-env', deps, true, async (hosts, report) => {
    const keys = settings.map((s) => s.key).join(', ');
    report.plan = hosts.map((h) => {
      const env = EnvFile.parse(h.original);
      const changes = settings.map(
        (s) => `${s.key}: ${shown(s.key, env.get(s.key), deps)} → ${shown(s.key, s.value, deps)}`,
      );
      return `${h.run.name}: ${h.envPath}: ${changes.join(', ')} (backup kept); pm2 ${h.mode === 'cluster' ? 'reload' : 'restart'} ${target.pm2.name} --update-env; the health gate`;
    });
    await deps.log.group('Plan', async () => report.plan.forEach((l) => deps.log.info(l)));
    if (target.dryRun) {
      report.hosts = hosts.map((h) => ({ host: h.run.name, result: 'planned', detail: '' }));
      return;
    }
    const values = Object.fromEntries(settings.map((s) => [s.key, s.value]));
    const backupStamp = stamp(new Date());
    // Every host's new file first, each checked by dotenv's reading: one that cannot be edited safely
    // stops the operation before any host changes.
    const texts = new Map<SecretHost, string>();
    for (const h of hosts) {
      const env = EnvFile.parse(h.original);
      for (const s of settings) env.set(s.key, s.value);
      try {
        texts.set(h, env.toString());
      } catch (error) {
        if (!(error instanceof OperationError)) throw error;
        throw new OperationError(
          `${h.run.name}: ${target.envFile}: ${error.message} No host was changed.`,
          error.hint,
        );
      }
    }
    let failed: unknown;
    for (const h of hosts) {
      try {
        throwIfCancelled(deps.signal);
        await deps.log.group(`${h.run.name}: set ${keys}`, () =>
          changeHost(h, texts.get(h) as string, values, '', target, deps, backupStamp),
        );
        report.hosts.push({
          host: h.run.name,
          result: 'done',
          detail: `${keys} set; healthy${h.report.backup ? `; backup ${h.report.backup}` : ''}`,
        });
      } catch (error) {
        report.hosts.push({ host: h.run.name, result: 'failed', detail: errorText(error) });
        failed = error;
        break;
      }
    }
    if (failed === undefined) return;
    const { touched, problems } = await revertTouched(
      hosts,
      (h) => {
        const before = EnvFile.parse(h.original);
        return Object.fromEntries(settings.map((s) => [s.key, before.get(s.key) ?? '']));
      },
      target,
      deps,
    );
    for (const h of touched) {
      const row = report.hosts.find((r) => r.host === h.run.name);
      if (row)
        row.result = problems.some((p) => p.startsWith(`${h.run.name}: `)) ? 'not-reverted' : 'reverted';
    }
    throw new OperationError(
      `set-env ${keys} failed: ${errorText(failed)} ${problems.length ? `Putting the hosts back ALSO FAILED — ${problems.join('; ')}.` : 'Every changed host was put back as found, restarted and verified healthy.'}`,
      problems.length
        ? `restore ${target.envFile} from its newest .bak-* file on that host and \`pm2 restart ${target.pm2.name} --update-env\`.`
        : 'the app does not start healthy with those values: check the value, and `pm2 logs` for why.',
    );
  });
}

/**
 * A value as the plan shows it: flags and plain settings as they are; a secret-looking one (a key
 * that names a secret, a long opaque value) masked the moment it is seen and shown as a fingerprint —
 * set-env is for flags, but someone will set a key with it at 3 a.m.
 */
function shown(key: string, value: string | undefined, deps: DeployDeps): string {
  if (value === undefined) return '(unset)';
  if (!secretLooking(key, value)) return JSON.stringify(value);
  deps.log.mask(value);
  return `(secret, fingerprint ${fingerprint(value)})`;
}

/**
 * One `KEY=value` a line: the key checked, the value kept as written — commas and `=` included
 * (`PLAID_OPTIONS=mode=sandbox,retries=3` is one setting).
 */
export function parseSettings(input: string, raw: string, allowLowercase = false): Setting[] {
  const settings = raw
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const eq = line.indexOf('=');
      const key = eq === -1 ? line : line.slice(0, eq).trim();
      if (eq === -1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
        throw new ConfigurationError(
          input,
          `${JSON.stringify(line)} is not KEY=value (a key of letters, digits and _).`,
        );
      checkAppVariable(input, key, allowLowercase);
      const value = line.slice(eq + 1);
      if (/[\0\n\r]/.test(value))
        throw new ConfigurationError(input, `the value of ${key} holds a control character.`);
      return { key, value };
    });
  if (settings.length === 0)
    throw new ConfigurationError(input, 'is required for set-env, e.g. PLAID_ENABLED=false.');
  return settings;
}
