/**
 * What is live, host by host, on one screen — read-only: the current release and its sha, when and
 * by whom it went live, pm2's status, uptime and restarts, one health probe, the deploy lease's
 * holder if any, the previous good release (what a rollback would bring back), and each secret's
 * last rotation. Every host is read; one that cannot be reached is a row saying so, not a stop.
 */
import { errorText } from '../errors.js';
import type { Log } from '../log.js';
import type { ModeResult } from '../result.js';
import { markdownTable } from '../report/markdown.js';
import { readRemoteEnv } from '../envfile/remote.js';
import { EnvFile } from '../envfile/envfile.js';
import { readRecord, recordPath } from '../secrets/record.js';
import { fingerprintOf } from '../secrets/value.js';
import { verifyHealth } from '../health/verify.js';
import type { HealthCriteria } from '../health/options.js';
import { openSession, type SshOptions } from '../ssh/connect.js';
import { CONNECT_PARALLEL } from '../fleet/hosts.js';
import { mapInParallel } from '../fleet/parallel.js';
import { sh } from '../ssh/shell.js';
import { describeTarget, type SshTarget } from '../ssh/target.js';
import { describeHolder, type Lease } from '../fleet/lease.js';
import { appPaths } from '../releases/layout.js';
import { healthUrlFor } from '../releases/host-url.js';
import { pm2List } from '../releases/pm2.js';
import { previousGood, ReleaseStore } from '../releases/store.js';

export interface StatusOptions {
  hosts: SshTarget[];
  ssh: SshOptions;
  app: string;
  appDir: string;
  envFile: string;
  /** Health URL templates, one per host or one for all (parseHealthUrlTemplates); none: not probed. */
  healthUrls: string[];
  health: HealthCriteria;
}

export interface SecretStatus {
  name: string;
  fingerprint?: string;
  rotatedAt?: string;
  ageDays?: number;
}

export interface HostStatus {
  host: string;
  reachable: boolean;
  error?: string;
  current?: string;
  sha?: string;
  /** When the current release went live (deployed or rolled back to), and by whom. */
  liveSince?: string;
  liveBy?: string;
  liveHow?: string;
  pm2?: { status: string; instances: number; restarts: number; uptimeS?: number };
  health?: { healthy: boolean; status?: number; version?: string; failure?: string };
  lease?: { holder: string; ageS: number };
  previousGood?: string;
  secrets: SecretStatus[];
}

const DAY = 86_400_000;

async function readHost(
  target: SshTarget,
  index: number,
  options: StatusOptions,
  log: Log,
): Promise<HostStatus> {
  const host = describeTarget(target);
  const status: HostStatus = { host, reachable: false, secrets: [] };
  let session;
  try {
    session = await openSession(target, options.ssh, log);
  } catch (error) {
    status.error = errorText(error);
    return status;
  }
  try {
    status.reachable = true;
    const store = new ReleaseStore(session, options.appDir);
    const paths = appPaths(options.appDir);
    const [state, processes, leaseText, envText, record] = await Promise.all([
      store.state(),
      pm2List(session).catch(() => undefined),
      session
        .run(
          'read the deploy lease',
          sh`f=${paths.lock}; [ -f "$f" ] || exit 0; printf '%s\n' $(( $(date +%s) - $(stat -c %Y -- "$f") )); head -c 4096 -- "$f"`,
        )
        .then((r) => r.stdout),
      readRemoteEnv(session, options.envFile).catch(() => undefined),
      readRecord(session, recordPath(options.envFile)).catch(() => undefined),
    ]);
    if (state.current) {
      status.current = state.current;
      const info = state.releases.find((r) => r.id === state.current);
      if (info?.sha) status.sha = info.sha;
      const live = [...state.log]
        .reverse()
        .find(
          (e) =>
            e.release === state.current && !['preparing', 'failed', 'abandoned', 'bad'].includes(e.outcome),
        );
      if (live) {
        status.liveSince = live.time;
        status.liveHow = live.outcome;
        if (live.actor) status.liveBy = live.actor;
      }
      const previous = previousGood(state);
      if (previous) status.previousGood = previous.id;
    }
    const mine = (processes ?? []).filter((p) => p.name === options.app);
    if (processes)
      status.pm2 = {
        status: mine.length ? [...new Set(mine.map((p) => p.status))].join(', ') : 'not in pm2',
        instances: mine.length,
        restarts: mine.reduce((sum, p) => sum + p.restarts, 0),
        ...(mine[0]?.startedAt
          ? { uptimeS: Math.max(0, Math.round((Date.now() - mine[0].startedAt) / 1000)) }
          : {}),
      };
    if (leaseText.trim()) {
      const [age, ...json] = leaseText.split('\n');
      let lease: Partial<Lease> = {};
      try {
        lease = JSON.parse(json.join('\n')) as Partial<Lease>;
      } catch {
        // a lease file cut short still says someone holds it
      }
      status.lease = { holder: describeHolder(lease), ageS: Number(age) || 0 };
    }
    const env = envText === undefined ? undefined : EnvFile.parse(envText);
    for (const [name, entry] of Object.entries(record?.secrets ?? {}).sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      const value = env?.get(name);
      if (value) log.mask(value);
      status.secrets.push({
        name,
        ...(value !== undefined ? { fingerprint: fingerprintOf(value) } : {}),
        rotatedAt: entry.rotated_at,
        ageDays: Math.floor((Date.now() - Date.parse(entry.rotated_at)) / DAY),
      });
    }
  } catch (error) {
    status.error = errorText(error);
  } finally {
    session.close();
  }
  if (options.healthUrls.length) {
    const report = await verifyHealth(
      {
        urls: [healthUrlFor(options.healthUrls, index, target)],
        ...options.health,
        maxAttempts: 1,
        successThreshold: 1,
      },
      { log: { ...log, info: () => undefined } },
    );
    status.health = {
      healthy: report.healthy,
      ...(report.statusCode !== undefined ? { status: report.statusCode } : {}),
      ...(report.version ? { version: report.version } : {}),
      ...(report.failure ? { failure: report.failure } : {}),
    };
  }
  return status;
}

const ago = (iso: string | undefined) => {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120
    ? `${s} s ago`
    : s < 7200
      ? `${Math.round(s / 60)} min ago`
      : s < 172_800
        ? `${Math.round(s / 3600)} h ago`
        : `${Math.round(s / 86_400)} d ago`;
};
const uptime = (s: number | undefined) =>
  s === undefined
    ? '-'
    : s < 120
      ? `${s} s`
      : s < 7200
        ? `${Math.round(s / 60)} min`
        : `${(s / 3600).toFixed(1)} h`;

export function statusSummary(app: string, hosts: HostStatus[]): string {
  const rows = hosts.map((h) =>
    h.reachable
      ? [
          h.host,
          h.current ? `${h.current}${h.sha ? ` (${h.sha.slice(0, 7)})` : ''}` : 'none',
          h.liveSince
            ? `${h.liveHow === 'rollback' || h.liveHow === 'rolled-back' ? 'rolled back to' : 'deployed'} ${ago(h.liveSince)}${h.liveBy ? ` by ${h.liveBy}` : ''}`
            : '-',
          h.pm2 ? `${h.pm2.status}${h.pm2.instances > 1 ? ` ×${h.pm2.instances}` : ''}` : 'pm2 not answering',
          uptime(h.pm2?.uptimeS),
          String(h.pm2?.restarts ?? '-'),
          h.health
            ? h.health.healthy
              ? `healthy${h.health.version ? ` (${h.health.version})` : ''}`
              : `**NOT healthy**: ${h.health.failure ?? ''}`
            : '-',
          h.lease ? `held by ${h.lease.holder}, beat ${h.lease.ageS} s ago` : 'free',
          h.previousGood ?? 'none',
        ]
      : [h.host, `**unreachable**: ${h.error ?? ''}`, '', '', '', '', '', '', ''],
  );
  const lines = [
    `### ${app}: what is live`,
    '',
    markdownTable(
      [
        'host',
        'current release',
        'live since',
        'pm2',
        'uptime',
        'restarts',
        'health',
        'deploy lease',
        'previous good',
      ],
      rows,
    ),
  ];
  const secrets = hosts.flatMap((h) =>
    h.secrets.map((s) => [
      h.host,
      s.name,
      s.fingerprint ?? '(not in the env file)',
      s.rotatedAt ?? '-',
      s.ageDays === undefined ? '-' : `${s.ageDays} d`,
    ]),
  );
  lines.push(
    '',
    secrets.length
      ? markdownTable(['host', 'secret', 'fingerprint', 'last rotated', 'age'], secrets)
      : 'No secret has been rotated by runbook-actions on these hosts yet.',
  );
  return lines.join('\n');
}

export async function readStatus(options: StatusOptions, deps: { log: Log }): Promise<ModeResult> {
  const hosts = await mapInParallel(options.hosts, CONNECT_PARALLEL, (target, i) =>
    readHost(target, i, options, deps.log),
  );
  const down = hosts.filter((h) => !h.reachable || h.error);
  for (const h of down)
    deps.log.warn(`${h.host}: ${h.reachable ? 'read in part' : 'unreachable'}: ${h.error}`);
  return {
    mode: 'status',
    outputs: { status: JSON.stringify(hosts), report: JSON.stringify({ app: options.app, hosts }) },
    summary: statusSummary(options.app, hosts),
  };
}
