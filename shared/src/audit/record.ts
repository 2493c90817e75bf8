/**
 * What every mutating procedure leaves behind and tells, around its core: the notification of its start
 * (incident operations) and of its end (`notify-url`, `notify-on`), and one audit line on each host it
 * touched. It wraps the entry core that the action and the CLI both run, so neither can forget it.
 * The audit line is written after the operation, over the connection the procedure used (kept open
 * for it, see keepingSessions): it never holds up the operation (a rollback's switch comes first), and
 * a host that cannot be reached by then is a warning. Text is redacted before it is cut, so that no cut
 * leaves part of a secret unmatched.
 */
import type { Inputs } from '../config/inputs.js';
import { ConfigurationError, OperationError, errorText } from '../errors.js';
import { mapInParallel } from '../fleet/parallel.js';
import { openSession } from '../ssh/connect.js';
import { ConnectionLost, keepingSessions, type SshSession } from '../ssh/session.js';
import type { Log } from '../log.js';
import { NOTIFY_ON, notify, shouldNotify, type Notice, type NotifyTarget } from '../notify/notify.js';
import { readSshRoute } from '../postgres/inputs.js';
import { Redactor } from '../redact/redactor.js';
import type { RunContext, RunResult } from '../result.js';
import { readHosts, readSshOptions } from '../ssh/inputs.js';
import type { SshOptions } from '../ssh/connect.js';
import type { SshTarget } from '../ssh/target.js';
import { describeTarget } from '../ssh/target.js';
import {
  DEFAULT_AUDIT_MAX_BYTES,
  appendAudit,
  auditLine,
  type AuditEvent,
  type AuditOutcome,
} from './audit-log.js';
import { readAuditFile } from './inputs.js';

export interface RecordSpec {
  /** The operation as people say it: `deploy`, `rollback`, `ops restart`, `rotate JWT_SECRET` … */
  operation: (inputs: Inputs) => string;
  /** Whether this call changes anything (a dry run or a read does not): only then is an audit line written. */
  mutates: (inputs: Inputs, result: RunResult) => boolean;
  /** Where its audit lines go: the app hosts (`hosts`), or the database droplet named by an input. */
  where: { hosts: true } | { sshHostInput: string };
  /** The inputs the audit line records (never secrets: each action lists them). */
  auditInputs: readonly string[];
  /** An incident operation: its start is told too (under `notify-on: always`). */
  announceStart?: boolean;
  /**
   * GitHub's deployments kept true (github/record-deployment.ts), given by the deploy's and the
   * rollback's entries only, so that no other bundle carries a GitHub client.
   */
  deployments?: DeploymentHooks;
  /** What this operation's result says that the audit line should carry. */
  facts?: (result: RunResult, inputs: Inputs) => Partial<Pick<AuditEvent, 'secret' | 'inputs'>>;
}

/** A run's record in GitHub: begun while it runs (a deploy), finished after it, never failing it. */
export interface DeploymentHooks {
  /** Read before the run; undefined: nothing to record (no token, a dry run). */
  begin(
    inputs: Inputs,
    context: RunContext,
    log: Log,
  ): { finish: (result: RunResult, detail?: string) => Promise<void> } | undefined;
}

type AuditStep = { host: string; status: 'done' } | { host: string; status: 'failed'; error: unknown };

export interface RecordDeps {
  log: Log;
  signal?: AbortSignal;
  now?: () => Date;
}

function readNotifyTarget(inputs: Inputs): NotifyTarget | undefined {
  const raw = inputs.secret('notify-url');
  const on = inputs.choice('notify-on', NOTIFY_ON, 'failure');
  const timeoutMs = inputs.duration('notify-timeout', 10_000, { min: 100, max: 120_000 });
  if (!raw || on === 'never') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigurationError('notify-url', 'is not a URL (the value is not shown).');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigurationError(
      'notify-url',
      `must be an http(s) URL, not ${url.protocol} (the value is not shown).`,
    );
  return { url, on, timeoutMs };
}

interface AuditPlace {
  targets: SshTarget[];
  ssh: SshOptions;
  file: string;
  maxBytes: number;
}

/** Where the lines go (readAuditFile), on which hosts, within what size. */
function readAuditPlace(inputs: Inputs, spec: RecordSpec): AuditPlace | undefined {
  const maxBytes = inputs.size('audit-max-bytes', DEFAULT_AUDIT_MAX_BYTES, { min: 16 * 1024 });
  const file = readAuditFile(inputs);
  if ('hosts' in spec.where)
    return { targets: readHosts(inputs), ssh: readSshOptions(inputs), file, maxBytes };
  const route = readSshRoute(inputs, spec.where.sshHostInput);
  return route ? { targets: [route.host], ssh: route.ssh, file, maxBytes } : undefined;
}

/** Per host: the release before and after and this host's result, from a `hosts-report` or `report` output. */
function hostFacts(result: RunResult): Map<string, Partial<AuditEvent> & { result?: string }> {
  const facts = new Map<string, Partial<AuditEvent> & { result?: string }>();
  for (const name of ['hosts-report', 'report']) {
    const raw = result.outputs[name];
    if (typeof raw !== 'string' || (!raw.startsWith('[') && !raw.startsWith('{'))) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      continue;
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { hosts?: unknown }).hosts;
    if (!Array.isArray(list)) continue;
    for (const item of list as Record<string, unknown>[]) {
      if (typeof item?.host !== 'string') continue;
      const text = (key: string) => (typeof item[key] === 'string' ? (item[key] as string) : undefined);
      const before = text('previousRelease');
      const after = text('release');
      const hostResult = text('outcome') ?? text('result');
      facts.set(item.host, {
        ...(before ? { before: { release: before } } : {}),
        ...(after ? { after: { release: after } } : {}),
        ...(hostResult ? { result: hostResult } : {}),
      });
    }
  }
  return facts;
}

const firstLine = (text: string) => text.split('\n')[0]?.slice(0, 500) ?? '';

function failureText(error: Error): string {
  return error instanceof OperationError ? `${error.message} What to do: ${error.hint}` : errorText(error);
}

/**
 * Runs `run` with its notifications and audit lines. A thrown failure is rethrown after them; a
 * failure in the result stays in it.
 */
export async function recordRun<R extends RunResult>(
  inputs: Inputs,
  context: RunContext,
  spec: RecordSpec,
  deps: RecordDeps,
  /** Given the inputs and a log whose masks reach this redactor too (a core masks what it finds). */
  run: (inputs: Inputs, log: Log) => Promise<R>,
): Promise<R> {
  const now = deps.now ?? (() => new Date());
  const redactor = new Redactor();
  inputs.onSecret((secret) => void redactor.add(secret));
  const redact = (text: string) => redactor.redact(text);
  const log: Log = {
    ...deps.log,
    mask: (secret) => {
      deps.log.mask(secret);
      redactor.add(secret);
    },
  };
  const target = readNotifyTarget(inputs);
  const operation = spec.operation(inputs);
  const environment = inputs.string('environment');
  const severity = inputs.string('severity');
  const hostNames = () => {
    try {
      return 'hosts' in spec.where
        ? readHosts(inputs).map(describeTarget)
        : [inputs.string(spec.where.sshHostInput) ?? 'the database'];
    } catch {
      return [];
    }
  };
  const notice = (outcome: Notice['outcome'], detail?: string): Notice => ({
    event: operation,
    operation,
    outcome,
    ...(environment ? { environment } : {}),
    hosts: hostNames(),
    ...(context.holder.actor ? { actor: context.holder.actor } : {}),
    ...(severity ? { severity } : {}),
    ...(detail ? { detail } : {}),
    ...(context.holder.runUrl ? { runUrl: context.holder.runUrl } : {}),
    at: now().toISOString(),
  });
  const tell = (n: Notice) =>
    target && shouldNotify(target.on, n.outcome) ? notify(target, n, { log: deps.log, redact }) : undefined;
  // The start is told while the operation runs: a slow receiver never delays it.
  const started = spec.announceStart ? tell(notice('started')) : undefined;
  const startedAt = Date.now();
  const deployment = spec.deployments?.begin(inputs, context, log);

  // The hosts' connections, kept when the procedure is done with them: its audit lines use them.
  const kept = new Map<string, SshSession>();
  let result: R;
  let thrown: unknown;
  try {
    result = await keepingSessions(kept, () => run(inputs, log));
  } catch (error) {
    thrown = error;
    // Only read below (its failure), never returned: the error is thrown again.
    result = {
      outputs: {},
      summary: '',
      failure: error instanceof Error ? error : new Error(String(error)),
    } as R;
  }
  const outcome: AuditOutcome = !result.failure ? 'succeeded' : deps.signal?.aborted ? 'cancelled' : 'failed';
  const automaticRollback =
    result.outputs['rolled-back'] === true || result.outputs['rolled-back'] === 'true';
  const detail = result.failure
    ? `${automaticRollback ? 'Rolled back automatically. ' : ''}${firstLine(redact(failureText(result.failure)))}`
    : undefined;

  // Bad input changed nothing anywhere: nothing to audit.
  try {
    if (!(result.failure instanceof ConfigurationError) && spec.mutates(inputs, result)) {
      result = { ...result, summary: `${result.summary}\n\n${await writeAudit()}` };
    }
  } finally {
    for (const session of kept.values()) session.dispose();
  }
  await deployment
    ?.finish(result, detail)
    .catch((error: unknown) =>
      log.warn(`GitHub's deployment record was not kept (${redact(errorText(error))}); the outcome stands.`),
    );
  await started;
  await tell(notice(outcome, detail));
  if (thrown !== undefined) throw thrown;
  return result;

  async function writeAudit(): Promise<string> {
    let place: AuditPlace | undefined;
    try {
      place = readAuditPlace(inputs, spec);
    } catch (error) {
      deps.log.warn(`no audit line written: ${redact(errorText(error))}`);
      return `Audit: no line written (${redact(errorText(error))}).`;
    }
    if (!place) return 'Audit: no line written (no SSH host to write it on).';
    const where = place;
    const facts = hostFacts(result);
    const { inputs: extraInputs, ...extra } = spec.facts?.(result, inputs) ?? {};
    const recorded = Object.fromEntries(
      spec.auditInputs.flatMap((name) => {
        const value = inputs.raw(name);
        return value ? [[name, redact(value)]] : [];
      }),
    );
    const ended = now().toISOString();
    // Two tries at most, each bounded by connect-timeout: the host may be the one that failed.
    const ssh = { ...where.ssh, connectAttempts: Math.min(where.ssh.connectAttempts, 2) };
    const eventFor = (name: string): AuditEvent => {
      const own = facts.get(name) ?? {};
      const { result: hostResult, ...beforeAfter } = own;
      return {
        at: ended,
        host: name,
        operation,
        outcome,
        ...(context.holder.actor ? { actor: context.holder.actor } : {}),
        via: context.holder.runUrl ?? context.holder.description,
        ...(environment ? { environment } : {}),
        inputs: { ...recorded, ...extraInputs, ...(hostResult ? { 'host-result': hostResult } : {}) },
        ...beforeAfter,
        ...extra,
        ...(detail ? { error: detail } : {}),
        durationMs: Date.now() - startedAt,
      };
    };
    const steps = await mapInParallel(where.targets, 8, async (target): Promise<AuditStep> => {
      const name = describeTarget(target);
      const reused = kept.get(name);
      let session: SshSession | undefined = reused?.connected ? reused : undefined;
      const line = redact(auditLine(eventFor(name)));
      try {
        session ??= await openSession(target, ssh, deps.log);
        try {
          await appendAudit(session, where.file, line, where.maxBytes);
        } catch (error) {
          // A kept connection can be dead though it says connected: the host is reached once more.
          if (!(error instanceof ConnectionLost) || session !== reused) throw error;
          session = await openSession(target, ssh, deps.log);
          await appendAudit(session, where.file, line, where.maxBytes);
        }
        return { host: name, status: 'done' };
      } catch (error) {
        return { host: name, status: 'failed', error };
      } finally {
        if (session && session !== reused) session.dispose();
      }
    });
    const missed = steps.filter((s) => s.status !== 'done');
    for (const step of missed)
      deps.log.warn(
        `${step.host}: the audit line was not written (${redact(step.status === 'failed' ? errorText(step.error) : '')}); the operation's own outcome stands.`,
      );
    return `Audit: a line in \`${where.file}\` on ${steps.length - missed.length} of ${steps.length} host(s)${missed.length ? ` (not written on ${missed.map((s) => s.host).join(', ')})` : ''}.`;
  }
}
