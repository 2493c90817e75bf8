import { describe, expect, it } from '@jest/globals';
import { drillReport, type ScenarioRecord } from '../../cli/drill-report.js';
import { SECTIONS } from '../../shared/src/incident/report.js';

const at = (s: number) => new Date(Date.UTC(2026, 11, 3, 3, 0, s)).toISOString();

describe('drillReport', () => {
  const passed: ScenarioRecord = {
    name: 'backup-restore-migrations',
    summary: 'backups proven by restore',
    startedAt: at(0),
    endedAt: at(11),
    durationMs: 10_600,
    recoveryMs: 1400,
    checks: [{ ok: true, line: 'nightly backup verified', at: at(5) }],
  };
  const failed: ScenarioRecord = {
    name: 'deploy-and-rollback',
    summary: 'deploys and rollbacks',
    startedAt: at(0),
    endedAt: at(90),
    durationMs: 90_000,
    checks: [
      { ok: true, line: 'v1 deployed', at: at(10) },
      { ok: false, line: 'v1 serves again: NOT after the rollback', at: at(40) },
    ],
  };
  const skipped: ScenarioRecord = { ...passed, name: 'disk-full', skipped: 'needs root', checks: [] };

  it('tables every scenario with its result, time and time to recover', () => {
    const report = drillReport([passed, failed, skipped], at(0), 97_000);
    expect(report).toContain(
      '| backup-restore-migrations | backups proven by restore | passed (1 checks) | 10.6 s | 1.4 s |',
    );
    expect(report).toContain(
      '| deploy-and-rollback | deploys and rollbacks | **FAILED** (1 of 2) | 90.0 s | - |',
    );
    expect(report).toContain('| disk-full | backups proven by restore | skipped (needs root) |');
    expect(report).toMatch(/1 scenario\(s\) FAILED/);
  });

  it('fills the post-mortem template for a failed scenario only, its failed check a finding', () => {
    const report = drillReport([passed, failed], at(0), 97_000);
    expect(report.match(/^## Summary$/gm)).toHaveLength(1);
    for (const section of SECTIONS) expect(report).toContain(`## ${section}`);
    expect(report).toContain('v1 serves again: NOT after the rollback');
    expect(drillReport([passed], at(0), 11_000)).not.toContain('## Summary');
  });
});
