/**
 * Rotation, AWS Secrets Manager's four steps over SSH hosts and GitHub: create the value; set it
 * on every host, the old one kept as the grace value (`<NAME>_PREVIOUS`); test it (pm2 restarted
 * with --update-env, health, verify-command, verify-url); finish (the GitHub secret, the record).
 * Any failure puts every changed host back as it was found, restarted and proven healthy — a
 * failure at GitHub too, so GitHub and the servers never disagree. `retire-previous` ends the
 * grace window the same way, step for step.
 */
import { Cancelled } from '../cancel.js';
import { stamp } from '../stamp.js';
import { EnvFile } from '../envfile/envfile.js';
import { OperationError, errorText } from '../errors.js';
import { batchesOf } from '../fleet/parallel.js';
import type { DeployDeps } from '../releases/host-run.js';
import { GithubSecret, type GithubSecretTarget, type PublicKey } from './github-secret.js';
import { decideRotation, type RotationDecision } from './plan.js';
import { updateRecord, type PendingRotation } from './record.js';
import {
  changeHost,
  onSecretHosts,
  revertTouched,
  type HostRotation,
  type SecretHost,
  type SecretTarget,
} from './secret-hosts.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import { describeGenerate, fingerprint, fingerprintOf, generateValue, type GenerateSpec } from './value.js';

export interface RotateOptions extends SecretTarget {
  /** A value issued elsewhere (Plaid, Stripe); else one is generated. */
  value?: string;
  generate: GenerateSpec;
  /** Without it GitHub is not updated, and the report says so. */
  github?: GithubSecretTarget;
  /**
   * `previous-variable`: the old value stays in `<NAME>_PREVIOUS` for apps that verify with both;
   * `none`: it is not kept, and the report says the old value stops working at once.
   */
  grace: 'previous-variable' | 'none';
}

export interface RotationReport {
  mode: 'rotate' | 'retire-previous';
  name: string;
  previousName: string;
  fingerprint?: string;
  previousFingerprint?: string;
  hosts: HostRotation[];
  github: { updated: boolean; note: string };
  /** Hosts were changed and then put back. */
  reverted: boolean;
  plan: string[];
  notes: string[];
  durationMs: number;
  failure?: OperationError;
}

function newReport(options: SecretTarget, mode: RotationReport['mode']): RotationReport {
  return {
    mode,
    name: options.name,
    previousName: options.previousName,
    hosts: [],
    github: {
      updated: false,
      note: mode === 'rotate' ? 'not updated: no github-token given' : 'not involved',
    },
    reverted: false,
    plan: [],
    notes: [],
    durationMs: 0,
  };
}

export function rotateSecret(options: RotateOptions, deps: DeployDeps): Promise<RotationReport> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const report = newReport(options, 'rotate');
  return onSecretHosts(options, 'rotate-secret', deps, report, async (open) => {
    let github: { client: GithubSecret; key: PublicKey } | undefined;
    if (options.github) {
      // First, so that a token that cannot reach the secret fails before any host changes.
      const client = await GithubSecret.open(options.github, log);
      github = { client, key: await client.publicKey() };
      log.info(`${client.where}: public key ${github.key.keyId} read; the token reaches it`);
    } else {
      log.warn('no github-token: the GitHub secret will not be updated (the hosts will be)');
    }
    const hosts = await open();
    const decision = decideRotation(
      options.name,
      hosts.map((h) => ({
        host: h.run.name,
        ...(h.current !== undefined ? { current: h.current } : {}),
        ...(h.previous !== undefined ? { previous: h.previous } : {}),
        ...(h.record.pending[options.name] ? { pending: h.record.pending[options.name] } : {}),
      })),
      options.value,
      () => generateValue(options.generate),
    );
    log.mask(decision.newValue);
    report.fingerprint = fingerprint(decision.newValue);
    report.previousFingerprint = fingerprintOf(decision.oldValue);
    if (decision.resumes) {
      report.notes.push(
        `finishes the rotation to ${decision.resumes.fingerprint} interrupted on ${decision.resumes.started_at}${decision.resumes.run ? ` (${decision.resumes.run})` : ''}${decision.adopted ? ', with the value it had written' : ''}`,
      );
    }
    // The old value is the grace value only where the app can use it.
    const graceValue = options.grace === 'previous-variable' ? decision.oldValue : undefined;
    if (decision.oldValue !== undefined && !decision.unchanged) {
      const notes = await graceNotes(hosts, options);
      notes.forEach((note) => log.warn(note));
      report.notes.push(...notes);
    }
    report.plan = rotationPlan(hosts, { ...decision, oldValue: graceValue }, options, github?.client);
    await log.group('Plan', async () => report.plan.forEach((line) => log.info(line)));
    report.hosts = hosts.map((h) => h.report);
    if (options.dryRun) {
      hosts.forEach((h) => (h.report.outcome = 'planned'));
      report.github.note = github ? `would update ${github.client.where}` : report.github.note;
      return;
    }

    const pending: PendingRotation = decision.resumes ?? {
      fingerprint: report.fingerprint,
      ...(graceValue !== undefined ? { previous_fingerprint: fingerprint(graceValue) } : {}),
      started_at: now().toISOString(),
      ...(options.holder.actor ? { by: options.holder.actor } : {}),
      ...(options.holder.runUrl ? { run: options.holder.runUrl } : {}),
    };
    if (!decision.unchanged) await journal(hosts, options.name, pending);

    const backupStamp = stamp(now());
    const values: Record<string, string> = {
      [options.name]: decision.newValue,
      ...(graceValue !== undefined ? { [options.previousName]: graceValue } : {}),
    };
    const failure = await changeEveryHost(hosts, options, deps, report, backupStamp, (h) => {
      const env = EnvFile.parse(h.original).set(options.name, decision.newValue);
      if (graceValue !== undefined) env.set(options.previousName, graceValue);
      return { text: env.toString(), values, expected: report.fingerprint as string };
    });
    if (failure) {
      report.failure = await revertAll(hosts, options, deps, report, failure, 'GitHub was not touched.');
      if (!decision.adopted) await clearPending(hosts, options.name, pending, log);
      return;
    }

    if (github) {
      try {
        const result = await github.client.put(decision.newValue, github.key);
        report.github = { updated: true, note: `${result} ${github.client.where}` };
        log.info(`${github.client.where}: ${result}`);
      } catch (error) {
        const cause =
          error instanceof OperationError ? error : new OperationError(errorText(error), 'run again.');
        report.github.note = `not updated: ${cause.message}`;
        report.failure = await revertAll(
          hosts,
          options,
          deps,
          report,
          cause,
          'The hosts were put back so that GitHub and the servers agree on the old value.',
        );
        if (!decision.adopted) await clearPending(hosts, options.name, pending, log);
        return;
      }
    }

    const at = now().toISOString();
    await finishRecords(hosts, log, (record) => {
      record.pending = without(record.pending, options.name);
      record.secrets[options.name] = {
        fingerprint: report.fingerprint as string,
        ...(graceValue !== undefined ? { previous_fingerprint: fingerprint(graceValue) } : {}),
        rotated_at: decision.unchanged ? (record.secrets[options.name]?.rotated_at ?? at) : at,
        ...(options.holder.actor ? { by: options.holder.actor } : {}),
        ...(options.holder.runUrl ? { run: options.holder.runUrl } : {}),
      };
    });
  });
}

export function retirePrevious(options: SecretTarget, deps: DeployDeps): Promise<RotationReport> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const report = newReport(options, 'retire-previous');
  return onSecretHosts(options, 'retire-previous', deps, report, async (open) => {
    const hosts = await open();
    const unfinished = hosts.find((h) => h.record.pending[options.name]);
    if (unfinished) {
      const p = unfinished.record.pending[options.name] as PendingRotation;
      throw new OperationError(
        `A rotation of ${options.name} to ${p.fingerprint} (started ${p.started_at}) is unfinished on ${unfinished.run.name}; its grace value is still needed. Nothing was changed.`,
        'run the rotation again (mode: rotate) to finish it, then retire the previous value.',
      );
    }
    report.hosts = hosts.map((h) => h.report);
    const values = new Set(hosts.map((h) => fingerprintOf(h.current)));
    report.fingerprint = values.size === 1 ? fingerprintOf(hosts[0]?.current) : undefined;
    const holding = hosts.filter((h) => h.previous !== undefined);
    report.previousFingerprint = holding.length ? fingerprintOf(holding[0]?.previous) : undefined;
    report.plan = hosts.map((h) =>
      h.previous === undefined
        ? `${h.run.name}: ${h.envPath} has no ${options.previousName}; nothing to do`
        : `${h.run.name}: remove ${options.previousName} (${fingerprintOf(h.previous)}) from ${h.envPath} (backup kept), ${restartWords(options, h.mode)} with it emptied, verify`,
    );
    await log.group('Plan', async () => report.plan.forEach((line) => log.info(line)));
    if (options.dryRun) {
      hosts.forEach((h) => (h.report.outcome = 'planned'));
      return;
    }
    if (holding.length === 0) {
      report.notes.push(`no host holds ${options.previousName}: the grace window is already closed`);
      return;
    }
    const failure = await changeEveryHost(holding, options, deps, report, stamp(now()), (h) => ({
      text: EnvFile.parse(h.original).remove(options.previousName).toString(),
      // pm2 keeps every variable it was ever given: the grace value is withdrawn by emptying it.
      values: { [options.previousName]: '' },
      expected: fingerprintOf(h.current),
    }));
    if (failure) {
      report.failure = await revertAll(holding, options, deps, report, failure, '');
      return;
    }
    const at = now().toISOString();
    await finishRecords(holding, log, (record) => {
      const entry = record.secrets[options.name];
      if (entry) entry.previous_retired_at = at;
    });
  });
}

/**
 * Says plainly when the old value stops working at once: with `grace: none`, or when the app's own
 * code (in work-dir, node_modules aside) never mentions the grace variable — most apps read only
 * `<NAME>`, so a JWT secret rotated under them logs everyone out.
 */
async function graceNotes(hosts: SecretHost[], options: RotateOptions): Promise<string[]> {
  if (options.grace === 'none')
    return [
      `grace: none — the old ${options.name} stops working on each host as it restarts: whatever was signed or authenticated with it (every JWT, every session) is invalid at once.`,
    ];
  const ignoring: string[] = [];
  await Promise.all(
    hosts.map(async (h) => {
      const { stdout } = await (h.run.session as SshSession).run(
        `does the app read ${options.previousName}`,
        sh`if [ -d ${options.workDir} ]; then timeout 20 grep -rlsF --exclude-dir=node_modules --exclude-dir=.git -e ${options.previousName} -- ${`${options.workDir}/`} | head -n 1; echo checked; fi`,
      );
      const lines = stdout.split('\n').filter(Boolean);
      if (lines.length === 1 && lines[0] === 'checked') ignoring.push(h.run.name);
    }),
  );
  if (ignoring.length === 0) return [];
  return [
    `the app's code in ${options.workDir} never mentions ${options.previousName} (on ${ignoring.join(', ')}): it will not accept the old value, which stops working at once — every JWT or session signed with it is invalid after the restart. ${options.previousName} is written anyway; set grace: none to leave it out, or make the app verify with both values.`,
  ];
}

function rotationPlan(
  hosts: SecretHost[],
  decision: RotationDecision,
  options: RotateOptions,
  github: GithubSecret | undefined,
): string[] {
  const from = fingerprintOf(decision.oldValue);
  const to =
    options.dryRun && options.value === undefined && !decision.adopted
      ? `a new value (${describeGenerate(options.generate)}, made when the rotation runs)`
      : fingerprint(decision.newValue);
  const lines = hosts.map((h) => {
    if (decision.unchanged)
      return `${h.run.name}: already holds ${to} in ${h.envPath}; restart and verify only`;
    const grace = decision.oldValue !== undefined ? `, ${options.previousName} ← ${from} (grace window)` : '';
    return `${h.run.name}: ${h.envPath}: ${options.name} ${fingerprintOf(h.current)} → ${to}${grace}; backup kept (last ${options.keepBackups}); ${restartWords(options, h.mode)}; verify health${options.verifyCommand ? ', verify-command' : ''}${options.verifyUrls.length ? ', verify-url shows the new fingerprint' : ''}`;
  });
  lines.push(
    github
      ? `GitHub: ${github.where} ← ${to} (sealed to the scope's public key), after every host is verified`
      : 'GitHub: not updated (no github-token)',
  );
  return lines;
}

/**
 * Host after host (a bad value stops at the first host): the change, then its proof. Returns the
 * first failure, or undefined; a cancelled run stops between hosts and counts as a failure.
 */
async function changeEveryHost(
  hosts: SecretHost[],
  options: SecretTarget,
  deps: DeployDeps,
  report: RotationReport,
  backupStamp: string,
  edit: (h: SecretHost) => { text: string; values: Record<string, string>; expected: string },
): Promise<OperationError | undefined> {
  // Every host's new file first, each checked by dotenv's reading: one that cannot be edited safely
  // stops the rotation before any host changes.
  const edits = new Map<SecretHost, ReturnType<typeof edit>>();
  for (const host of hosts) {
    try {
      edits.set(host, edit(host));
    } catch (error) {
      if (!(error instanceof OperationError)) throw error;
      return new OperationError(
        `${host.run.name}: ${host.envPath}: ${error.message} No host was changed.`,
        error.hint,
      );
    }
  }
  // The canary alone, then batches of max-parallel; a failure in a batch lets the hosts under way
  // finish (to be put back with the rest) and starts no more. A cancelled run stops between batches.
  for (const batch of batchesOf(hosts, options)) {
    if (deps.signal?.aborted) {
      const reason: unknown = deps.signal.reason;
      const cancelled = reason instanceof OperationError ? reason : new Cancelled(String(reason));
      return new OperationError(
        `${(batch[0] as SecretHost).run.name}: ${cancelled.message}; neither it nor the hosts after it were changed.`,
        cancelled.hint,
      );
    }
    const results = await Promise.allSettled(
      batch.map((host) => {
        const { text, values, expected } = edits.get(host) as ReturnType<typeof edit>;
        return deps.log.group(`${host.run.name}: ${options.name}`, () =>
          changeHost(host, text, values, expected, options, deps, backupStamp),
        );
      }),
    );
    let failure: OperationError | undefined;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      const host = batch[i] as SecretHost;
      const error: unknown = result.reason;
      host.report.error = errorText(error);
      if (!host.run.session?.connected) host.report.reachable = false;
      failure ??=
        error instanceof OperationError
          ? new OperationError(`${host.run.name}: ${error.message}`, error.hint)
          : new OperationError(
              `${host.run.name}: ${errorText(error)}`,
              'read the log above for the step that failed.',
            );
    });
    if (failure) return failure;
  }
  return undefined;
}

/** Every touched host back as found; the failure that caused it, said with what the revert achieved. */
async function revertAll(
  hosts: SecretHost[],
  options: SecretTarget,
  deps: DeployDeps,
  report: RotationReport,
  cause: OperationError,
  githubNote: string,
): Promise<OperationError> {
  const { touched, problems } = await revertTouched(
    hosts,
    (host) => ({ [options.name]: host.current ?? '', [options.previousName]: host.previous ?? '' }),
    options,
    deps,
  );
  report.reverted = touched.length > 0;
  const what = report.mode === 'rotate' ? `Rotation of ${options.name}` : `Retiring ${options.previousName}`;
  if (problems.length > 0) {
    return new OperationError(
      `${what} failed: ${cause.message} Putting the hosts back ALSO FAILED — ${problems.join('; ')}. ${githubNote}`.trim(),
      `this host may run with the wrong value: restore ${options.envFile} from its newest .bak-* file, then \`pm2 restart ${options.pm2.name} --update-env\` and check /health. (First: ${cause.hint})`,
    );
  }
  return new OperationError(
    `${what} failed: ${cause.message} ${touched.length ? `Every changed host (${touched.map((h) => h.run.name).join(', ')}) was put back as found, restarted and verified healthy.` : 'No host had been changed.'} ${githubNote}`.trim(),
    cause.hint,
  );
}

/** The rotation under way, on every host, before the first host changes. */
async function journal(hosts: SecretHost[], name: string, pending: PendingRotation): Promise<void> {
  await Promise.all(
    hosts.map((h) =>
      updateRecord(h.run.session as NonNullable<typeof h.run.session>, h.recordPath, (r) => {
        r.pending[name] = pending;
      }),
    ),
  );
}

async function clearPending(
  hosts: SecretHost[],
  name: string,
  pending: PendingRotation,
  log: DeployDeps['log'],
) {
  await finishRecords(hosts, log, (record) => {
    if (record.pending[name]?.fingerprint === pending.fingerprint)
      record.pending = without(record.pending, name);
  });
}

async function finishRecords(
  hosts: SecretHost[],
  log: DeployDeps['log'],
  change: Parameters<typeof updateRecord>[2],
): Promise<void> {
  await Promise.all(
    hosts.map(async (h) => {
      const session = h.run.session;
      try {
        if (!session?.connected) throw new Error('not connected');
        await updateRecord(session, h.recordPath, change);
      } catch (error) {
        log.warn(
          `${h.run.name}: could not update ${h.recordPath} (${errorText(error)}); the next run reads an older record`,
        );
      }
    }),
  );
}

function without<T>(entries: Record<string, T>, key: string): Record<string, T> {
  return Object.fromEntries(Object.entries(entries).filter(([k]) => k !== key));
}

/** How the plan says the app is restarted: pm2 in place, or (traffic: nginx) a fresh slot behind nginx. */
function restartWords(
  options: { traffic?: unknown; pm2: { name: string } },
  mode: 'cluster' | 'fork',
): string {
  return options.traffic
    ? `start the live release in the other slot (${options.pm2.name}-blue/-green) with the new value, gate it, move nginx to it, stop the old slot`
    : `pm2 ${mode === 'cluster' ? 'reload' : 'restart'} ${options.pm2.name} --update-env`;
}
