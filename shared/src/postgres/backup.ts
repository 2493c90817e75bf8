/**
 * `mode: backup` — the nightly backup: write it (dump.ts), verify it at the asked level and record
 * the result in its manifest, copy it to the droplet, then apply retention where we wrote.
 */
import type { Log } from '../log.js';
import { openSession } from '../ssh/connect.js';
import type { SshSession } from '../ssh/session.js';
import { throwIfCancelled } from '../cancel.js';
import { connectDatabase, disconnect, type DatabaseAccess } from './connect.js';
import {
  backupFileName,
  effectiveSpec,
  databaseSize,
  writeBackup,
  type Connected,
  type DumpSpec,
  type WrittenBackup,
} from './dump.js';
import { openEndpoint, type Endpoint } from './endpoint.js';
import type { DatabaseUrl } from './database-url.js';
import { describeDatabase } from './database-url.js';
import { databaseFailure } from './session.js';
import { recordVerification, type VerifyLevel } from './manifest.js';
import { copyToHost } from './remote-copy.js';
import type { RetentionPolicy } from './retention.js';
import { applyRetention, localStore, remoteStore, type RetentionResult } from './stores.js';
import { asVerification, verifyBackup, type VerifyOutcome } from './verify.js';
import { OperationError, operationFailure } from '../errors.js';
import { basename } from 'node:path';
import { describeTarget } from '../ssh/target.js';

export interface BackupOptions {
  access: DatabaseAccess;
  spec: DumpSpec;
  /** Verification right after writing; 'none' skips it. */
  verify: VerifyLevel | 'none';
  scratch?: DatabaseUrl;
  /** A directory on the droplet (ssh-host) to copy the backup to. */
  remoteDir?: string;
  retention: RetentionPolicy;
  dryRun: boolean;
}

export interface BackupReport {
  backup?: WrittenBackup;
  verification?: VerifyOutcome;
  remotePath?: string;
  retention: RetentionResult[];
  plan: string[];
  durationMs: number;
  /** What stopped it; what it did before (a written backup, a failed verification) is still reported. */
  failure?: OperationError;
}

export async function backup(
  options: BackupOptions,
  deps: { log: Log; signal?: AbortSignal },
): Promise<BackupReport> {
  const { log, signal } = deps;
  const started = performance.now();
  const report: BackupReport = { retention: [], plan: [], durationMs: 0 };
  let connected: Connected | undefined;
  let scratch: Endpoint | undefined;
  let host: SshSession | undefined;
  try {
    connected = await connectDatabase(options.access, log);
    const { spec } = options;
    if (options.dryRun) {
      const size = await databaseSize(connected.session);
      report.plan = [
        `would back up ${describeDatabase(options.access.db)} (PostgreSQL ${connected.server.version}, ${(size / 1_048_576).toFixed(1)} MB on the server) with pg_dump ${connected.tools.version}`,
        `would write ${spec.dir}/${backupFileName(effectiveSpec(spec, connected.tools.major), new Date())} (${spec.format}, compression ${spec.zstd !== undefined ? `zstd:${spec.zstd}` : spec.compression}) and its manifest`,
        options.verify === 'none' ? 'would not verify it' : `would verify it at level ${options.verify}`,
        ...(options.remoteDir
          ? [
              `would copy it to ${options.access.via ? describeTarget(options.access.via.host) : '?'}:${options.remoteDir} and move ${spec.name}-latest there`,
            ]
          : []),
      ];
      for (const line of report.plan) log.info(`[dry-run] ${line}`);
      report.retention.push(
        await applyRetention(localStore(spec.dir), spec.name, options.retention, [], log, true),
      );
      return report;
    }
    const written = await writeBackup(connected, spec, log, signal);
    report.backup = written;
    const tools = connected.tools;
    await disconnect(connected);
    connected = undefined;
    throwIfCancelled(signal);

    if (options.verify !== 'none') {
      if (options.verify === 'restore' && options.scratch)
        scratch = await openEndpoint(options.scratch, undefined, log);
      const outcome = await verifyBackup(
        written.path,
        written.manifest.format,
        written.manifest,
        options.verify,
        {
          tools,
          log,
          digestJustTaken: true,
          ...(scratch ? { scratch } : {}),
          ...(signal ? { signal } : {}),
        },
      );
      report.verification = outcome;
      await recordVerification(written.path, written.manifest, asVerification(outcome));
      if (!outcome.ok) {
        throw new OperationError(
          `The backup ${written.path} was written but FAILED verification (${outcome.level}): ${outcome.problems.join('; ')}.`,
          'do not rely on it: it was not copied and no older backup was removed. Run the backup again; if it fails the same way, check the server (disk, logs).',
        );
      }
    }
    throwIfCancelled(signal);
    if (options.remoteDir && options.access.via) {
      host = await openSession(options.access.via.host, options.access.via.ssh, log);
      report.remotePath = await copyToHost(host, written, options.remoteDir, spec.name, log);
    }
    const protect = [basename(written.path)];
    report.retention.push(
      await applyRetention(localStore(spec.dir), spec.name, options.retention, protect, log, false),
    );
    if (host && options.remoteDir) {
      report.retention.push(
        await applyRetention(
          remoteStore(host, options.remoteDir),
          spec.name,
          options.retention,
          protect,
          log,
          false,
        ),
      );
    }
    return report;
  } catch (error) {
    report.failure = operationFailure(databaseFailure(error, 'The backup'));
    return report;
  } finally {
    report.durationMs = Math.round(performance.now() - started);
    host?.close();
    await scratch?.close();
    await disconnect(connected);
  }
}
