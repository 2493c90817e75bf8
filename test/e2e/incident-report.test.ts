/** The post-mortem template filled in by a run: an automatic rollback writes one, six sections, nothing invented. */
import { afterAll, describe, expect, it } from '@jest/globals';
import { runActionBundle } from '../../sandbox/index.js';
import { deployHostPool, hostInputs, sampleArtifact, sha } from '../../sandbox/deploy-host.js';
import { SECTIONS, incidentMarkdown } from '../../shared/src/incident/report.js';

const pool = deployHostPool();
afterAll(() => pool.stopAll());

function sectionsOf(markdown: string): string[] {
  return [...markdown.matchAll(/^## (.+)$/gm)].map((m) => m[1] as string);
}

describe('incident report', () => {
  it('the template has its six sections in order and prompts where only a person can write', () => {
    const md = incidentMarkdown({
      name: 'x',
      title: 'outage',
      detectedAt: '2026-12-01T02:00:00.000Z',
      detection: 'health: 503',
      steps: [],
    });
    expect(sectionsOf(md)).toEqual([...SECTIONS]);
    expect(md).toContain('NOT recovered by this run');
    expect(md).toMatch(/Root Cause\n\nWhat the automation saw: health: 503\n\n> ✍️ _What caused it\?/);
    expect(md).not.toMatch(/undefined|null/);
  });

  it('a deploy rolled back automatically writes incidents/YYYY-MM-DD-<name>.md with its timeline and recovery time', async () => {
    const h = await pool.host();
    const secrets = [h.droplet.sshd?.privateKey ?? ''];
    const base = { ...hostInputs([h]), 'install-command': '', 'max-attempts': '3' };
    const first = await runActionBundle(
      'action-deploy',
      { ...base, artifact: sampleArtifact(h, { sha: sha(1) }), sha: sha(1) },
      { secrets },
    );
    expect(first.errors).toEqual([]);
    const bad = await runActionBundle(
      'action-deploy',
      {
        ...base,
        artifact: sampleArtifact(h, { sha: sha(2), mode: 'unavailable' }),
        sha: sha(2),
        'incident-report': 'true',
        environment: 'production',
      },
      { secrets },
    );
    expect(bad.exitCode).toBe(1);
    const path = bad.outputs['incident-report'] ?? '';
    expect(path).toMatch(/\/incidents\/\d{4}-\d{2}-\d{2}-deploy-0000002-rolled-back\.md$/);
    const md = bad.runnerFiles[path] ?? '';
    expect(sectionsOf(md)).toEqual([...SECTIONS]);
    expect(md).toContain('| Environment | production |');
    expect(md).toMatch(/\| Recovery \| recovered in \d+ s/);
    expect(md).toMatch(
      /Mitigation \| automatic rollback to \d{8}T\d{6}Z-0000001 on root@127\.0\.0\.1:\d+, verified healthy/,
    );
    expect(md).toMatch(/status 503/);
    expect(bad.summary).toContain('## Root Cause');
  }, 90_000);
});
