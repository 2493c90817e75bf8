/**
 * The drill's record (the runbook's quarterly disaster-recovery drill): each scenario with its
 * checks, result and time, written as drill-report.md — a table of every scenario, and for each one
 * that failed the post-mortem template filled in, as an incident report would be.
 */
import { writeFileSync } from 'node:fs';
import { incidentMarkdown, type Incident } from '../shared/src/incident/report.js';
import { markdownTable } from '../shared/src/report/markdown.js';

export interface Check {
  ok: boolean;
  line: string;
  at: string;
}

export interface ScenarioRecord {
  name: string;
  summary: string;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  checks: Check[];
  /** Set when the scenario could not run here (why). */
  skipped?: string;
  /** What the scenario threw, if it stopped part way. */
  error?: string;
  /** The time from the injected failure to the service proven again, where the scenario measures it. */
  recoveryMs?: number;
}

export const failed = (s: ScenarioRecord) => s.error !== undefined || s.checks.some((c) => !c.ok);

function result(s: ScenarioRecord): string {
  if (s.skipped) return `skipped (${s.skipped})`;
  if (failed(s))
    return `**FAILED** (${s.checks.filter((c) => !c.ok).length + (s.error ? 1 : 0)} of ${s.checks.length + (s.error ? 1 : 0)})`;
  return `passed (${s.checks.length} checks)`;
}

const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

/** The post-mortem template of a failed scenario, as the incident module writes any other. */
function postMortem(s: ScenarioRecord): string {
  const bad = s.checks.filter((c) => !c.ok);
  const incident: Incident = {
    name: `drill-${s.name}`,
    title: `Drill scenario ${s.name} failed`,
    severity: 'drill',
    detectedAt: bad[0]?.at ?? s.endedAt ?? s.startedAt,
    detection: `the drill's checks of ${s.name}: ${s.summary}`,
    findings: [...bad.map((c) => c.line), ...(s.error ? [`stopped: ${s.error}`] : [])],
    steps: s.checks.map((c, i) => ({
      name: `check ${i + 1}`,
      startedAt: i === 0 ? s.startedAt : (s.checks[i - 1] as Check).at,
      endedAt: c.at,
      outcome: c.ok ? 'succeeded' : 'failed',
      detail: c.line,
    })),
    mitigation: 'none: a drill against a disposable droplet; the finding is what production would have met',
  };
  return incidentMarkdown(incident);
}

export function drillReport(scenarios: ScenarioRecord[], startedAt: string, totalMs: number): string {
  const lines = [
    `# Disaster-recovery drill — ${startedAt.slice(0, 10)}`,
    '',
    `Started ${startedAt}, ${seconds(totalMs)} in all, on a disposable local droplet (real PostgreSQL, sshd, pm2, nginx, Redis).`,
    `${scenarios.filter(failed).length === 0 ? 'Every scenario ended as it should.' : `${scenarios.filter(failed).length} scenario(s) FAILED: their post-mortems follow.`}`,
    '',
    markdownTable(
      ['scenario', 'what it proves', 'result', 'time', 'time to recover'],
      scenarios.map((s) => [s.name, s.summary, result(s), seconds(s.durationMs), seconds(s.recoveryMs)]),
    ),
  ];
  for (const s of scenarios.filter(failed)) lines.push('', '---', '', postMortem(s));
  return `${lines.join('\n')}\n`;
}

export function writeDrillReport(path: string, text: string): void {
  writeFileSync(path, text);
}
