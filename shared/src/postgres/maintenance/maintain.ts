/** `mode: maintenance`: the chosen tasks in order on one session; a task that fails is reported and the rest still run. */
import { OperationError, errorText, operationFailure } from '../../errors.js';
import type { Log } from '../../log.js';
import type { DatabaseAccess } from '../connect.js';
import { openEndpoint } from '../endpoint.js';
import { DatabaseSession, databaseFailure } from '../session.js';
import { runTask, type MaintenanceOptions, type Task, type TaskResult } from './tasks.js';

export interface MaintainOptions extends MaintenanceOptions {
  access: DatabaseAccess;
  tasks: Task[];
  dryRun: boolean;
}

export interface MaintainReport {
  results: TaskResult[];
  failed: { task: Task; error: string }[];
  failure?: OperationError;
}

const CHANGES: Task[] = ['analyze', 'vacuum-analyze', 'reindex'];

export async function maintain(options: MaintainOptions, deps: { log: Log }): Promise<MaintainReport> {
  const { log } = deps;
  const report: MaintainReport = { results: [], failed: [] };
  if (options.dryRun) {
    for (const task of options.tasks) {
      const changes = CHANGES.includes(task) || (task === 'long-queries' && options.terminate);
      log.info(`[dry-run] would run ${task}${changes ? '' : ' (read-only)'}`);
    }
    // Read-only tasks are harmless: a dry run still shows what they see; the others are skipped.
    options = { ...options, terminate: false, tasks: options.tasks.filter((t) => !CHANGES.includes(t)) };
  }
  const endpoint = await openEndpoint(options.access.db, options.access.via, log);
  let session: DatabaseSession | undefined;
  try {
    session = await DatabaseSession.open(options.access.db, endpoint.reach);
    for (const task of options.tasks) {
      try {
        report.results.push(await runTask(task, session, options, log));
      } catch (error) {
        report.failed.push({ task, error: errorText(error) });
        log.warn(`${task} failed: ${errorText(error)}`);
      }
    }
  } catch (error) {
    report.failure = operationFailure(databaseFailure(error, 'Maintenance'));
  } finally {
    await session?.close();
    await endpoint.close();
  }
  if (!report.failure && report.failed.length) {
    report.failure = new OperationError(
      `Maintenance task${report.failed.length > 1 ? 's' : ''} failed: ${report.failed.map((f) => `${f.task}: ${f.error}`).join('; ')}.`,
      'the other tasks ran (see the summary); fix the cause (often privileges: REINDEX needs the table owner) and run the failed ones again.',
    );
  }
  return report;
}
