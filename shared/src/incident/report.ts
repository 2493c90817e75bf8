/**
 * The runbook's Post-Mortem Template, filled in from what a run knows — the detection (the failing
 * check), each step with its start, end and outcome, the mitigation, the time to recover — and left
 * as clear prompts where only a person can write (impact on users, root cause, action items,
 * lessons). Nothing is invented. Written to the job summary and to `incidents/YYYY-MM-DD-<name>.md`,
 * the runbook's Incident Documentation path.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { markdownTable } from '../report/markdown.js';

export interface IncidentStep {
  name: string;
  startedAt: string;
  endedAt: string;
  outcome: 'succeeded' | 'failed' | 'skipped';
  detail?: string;
}

export interface Incident {
  /** A short slug for the file name, e.g. `deploy-rollback`. */
  name: string;
  title: string;
  severity?: string;
  environment?: string;
  /** When the problem was detected, and by which check. */
  detectedAt: string;
  detection: string;
  /** What a diagnosis found (one line each, most severe first), e.g. action-diagnose's findings. */
  findings?: string[];
  steps: IncidentStep[];
  /** What was done to stop the damage (rolled back, restarted, fallback flag set …). */
  mitigation?: string;
  /** When the service was proven healthy again; undefined: not recovered by this run. */
  recoveredAt?: string;
  actor?: string;
  runUrl?: string;
  /** Other events of the incident window: the hosts' audit trail, diagnose's findings, with their times. */
  events?: { at: string; event: string; detail: string }[];
}

/** The template's six sections, in order: the tests hold every report to them. */
export const SECTIONS = [
  'Summary',
  'Timeline',
  'Root Cause',
  'Resolution',
  'Action Items',
  'Lessons Learned',
] as const;

const prompt = (text: string) => `> ✍️ _${text}_`;

function seconds(from: string, to: string): number {
  return Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
}

export function incidentMarkdown(incident: Incident): string {
  const day = incident.detectedAt.slice(0, 10);
  const recovered = incident.recoveredAt
    ? `recovered in ${seconds(incident.detectedAt, incident.recoveredAt)} s (healthy again at ${incident.recoveredAt})`
    : 'NOT recovered by this run';
  const timeline: string[][] = [
    [incident.detectedAt, 'detected', incident.detection],
    ...incident.steps.flatMap((s) => [
      [s.startedAt, `${s.name}: started`, ''],
      [s.endedAt, `${s.name}: ${s.outcome}`, s.detail ?? ''],
    ]),
    ...(incident.recoveredAt ? [[incident.recoveredAt, 'recovered', 'proven healthy']] : []),
    ...(incident.events ?? []).map((e) => [e.at, e.event, e.detail]),
  ].sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
  return [
    `# Incident ${day}: ${incident.title}`,
    '',
    '## Summary',
    '',
    markdownTable(
      ['', ''],
      [
        ['Date', day],
        ['Severity', incident.severity ?? 'not judged (run action-diagnose)'],
        ...(incident.environment ? [['Environment', incident.environment]] : []),
        ['Detected', `${incident.detectedAt} by: ${incident.detection}`],
        ['Mitigation', incident.mitigation ?? 'none by this run'],
        ['Recovery', recovered],
        ...(incident.actor ? [['Run by', incident.actor]] : []),
        ...(incident.runUrl ? [['Run', incident.runUrl]] : []),
      ],
    ),
    '',
    prompt(
      "Impact: who was affected, how many users and requests, for how long? (Only a person can tell; the figures above are the automation's.)",
    ),
    '',
    '## Timeline',
    '',
    incident.events?.length
      ? "UTC, from the run and the hosts' audit trail; add what people did and when."
      : 'UTC, from the run; add what people did and when.',
    '',
    markdownTable(['Time (UTC)', 'Event', 'Detail'], timeline),
    '',
    '## Root Cause',
    '',
    `What the automation saw: ${incident.detection}`,
    '',
    ...(incident.findings?.length
      ? ['What the diagnosis found:', '', ...incident.findings.map((f) => `- ${f}`), '']
      : []),
    prompt('What caused it? Ask "why" until the answer is something you can change (the five whys).'),
    prompt('Why did the checks before production (tests, review, staging) not catch it?'),
    '',
    '## Resolution',
    '',
    incident.mitigation
      ? `${incident.mitigation}; ${recovered}.`
      : `No mitigation by this run; ${recovered}.`,
    '',
    prompt('Is the fix permanent or a stopgap? What remains to be done?'),
    '',
    '## Action Items',
    '',
    markdownTable(['Action', 'Owner', 'Due', 'Issue'], [['✍️ _to be written_', '', '', '']]),
    '',
    '## Lessons Learned',
    '',
    prompt('What went well?'),
    prompt('What went wrong?'),
    prompt('Where did we get lucky?'),
    '',
  ].join('\n');
}

/**
 * Where incident reports go: `incident-dir` (default `incidents`) under the workspace — the
 * checkout on a runner (GITHUB_WORKSPACE), the current directory at a terminal.
 */
export function incidentDir(given: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.GITHUB_WORKSPACE ?? '.', given ?? 'incidents');
}

/** `<dir>/YYYY-MM-DD-<name>.md`, never overwriting an earlier report of the same day (`-2`, `-3` …). */
export function writeIncident(dir: string, incident: Incident): string {
  mkdirSync(dir, { recursive: true });
  const base = `${incident.detectedAt.slice(0, 10)}-${incident.name.replace(/[^A-Za-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'incident'}`;
  let path = join(dir, `${base}.md`);
  for (let n = 2; existsSync(path); n++) path = join(dir, `${base}-${n}.md`);
  writeFileSync(path, incidentMarkdown(incident), { flag: 'wx' });
  return path;
}
