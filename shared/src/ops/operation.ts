/**
 * One operation of action-ops (and `runbook ops <name>`): its name, whether it is destructive (refused
 * unless `confirm` is typed), a one-line summary, and how it runs — it reads its own inputs. The table
 * of them (table.ts) is where the confirm rule, the action's docs, the incident workflow's gate and the
 * CLI's help come from.
 */
import type { Inputs } from '../config/inputs.js';
import type { Log } from '../log.js';
import type { ModeResult, RunContext } from '../result.js';
import { markdownTable } from '../report/markdown.js';
import type { OpsReport } from './ops.js';

export interface OpsDeps {
  log: Log;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

/** What every operation is given beside its inputs. */
export interface OpsCall {
  name: string;
  dryRun: boolean;
  /** Values masked and redacted from whatever the operation shows (the `redact` input). */
  secrets: string[];
  started: Date;
}

export interface DestructiveWith {
  /** The boolean input that makes it destructive. */
  input: string;
  /** What the refusal calls it, e.g. "certificate renewal". */
  as: string;
}

export interface Operation {
  name: string;
  /**
   * Changes what users get or loses data: refused unless `confirm` equals `confirm-expected`. An
   * operation destructive only with one of its inputs (certificates with `renew`) says which, and
   * what the refusal calls it.
   */
  destructive: boolean | DestructiveWith;
  /** Changes something on a host (an audit line is written), or only with this boolean input. */
  mutates: boolean | { input: string };
  /** What it does, in one line: the action's docs and the CLI help. */
  summary: string;
  run(inputs: Inputs, context: RunContext, deps: OpsDeps, call: OpsCall): Promise<ModeResult>;
}

/** The job summary of an operation that reports host by host. */
export function opsSummary(report: OpsReport): string {
  return [
    `## ops ${report.operation}`,
    '',
    report.failure
      ? `**Failed:** ${report.failure.message}\n\n**What to do:** ${report.failure.hint}`
      : report.hosts.every((h) => h.result === 'planned')
        ? '**Dry run:** nothing was changed.'
        : '**Done.**',
    '',
    markdownTable(
      ['Host', 'Result', 'Detail'],
      report.hosts.map((h) => [h.host, h.result, h.detail]),
    ),
    '',
    '<details><summary>Plan</summary>',
    '',
    ...report.plan.map((l) => `- ${l}`),
    '',
    '</details>',
  ].join('\n');
}
