/** The post-mortem template filled in by a run: an automatic rollback writes one, six sections, nothing invented. */
import { afterAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** A real HTTP /health on the loopback: healthy in the runbook's shape, or 503. */
async function healthServer(status: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: status === 200 ? 'healthy' : 'unhealthy', services: {} }));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, server };
}

describe('action-incident-report', () => {
  const findings = JSON.stringify([
    { severity: 'P0', where: 'root@10.0.0.5', check: 'health', why: 'the API is down', next: '`pm2 logs`' },
    { severity: 'P3', where: 'root@10.0.0.5', check: 'logs', why: '16 error lines', next: '' },
  ]);

  it('a dispatch that ended well: six sections, the findings, recovery proven at the health URL', async () => {
    const { url, server } = await healthServer(200);
    try {
      const run = await runActionBundle('action-incident-report', {
        title: 'rollback on production (manual dispatch)',
        outcome: 'success',
        operation: 'rollback',
        environment: 'production',
        'started-at': '2026-12-01T03:00:00Z',
        detection: 'manual dispatch of rollback by @oncall',
        findings,
        'health-url': url,
      });
      expect(run.errors).toEqual([]);
      expect(run.exitCode).toBe(0);
      expect(run.outputs.recovered).toBe('true');
      const path = run.outputs.path ?? '';
      expect(path).toMatch(/\/incidents\/2026-12-01-rollback-on-production-manual-dispatch\.md$/);
      const md = run.runnerFiles[path] ?? '';
      expect(sectionsOf(md)).toEqual([...SECTIONS]);
      expect(md).toContain('| Severity | P0 |');
      expect(md).toContain('| Environment | production |');
      expect(md).toContain('- P0 root@10.0.0.5 health: the API is down — next: `pm2 logs`');
      expect(md).toMatch(/\| Recovery \| recovered in \d+ s/);
      expect(md).toContain('2026-12-01T03:00:00.000Z | detected | manual dispatch of rollback by @oncall');
      expect(run.summary).toContain('## Lessons Learned');
    } finally {
      server.close();
    }
  }, 30_000);

  it('a failed operation with the service still down says NOT recovered', async () => {
    const { url, server } = await healthServer(503);
    try {
      const run = await runActionBundle('action-incident-report', {
        title: 'deploy of abc to production failed',
        outcome: 'failure',
        'health-url': url,
        'health-deadline': '1s',
      });
      expect(run.exitCode).toBe(0);
      expect(run.outputs.recovered).toBe('false');
      const md = run.runnerFiles[run.outputs.path ?? ''] ?? '';
      expect(md).toContain('NOT recovered by this run');
      expect(md).toMatch(/the service after it: NOT healthy: .*503/);
    } finally {
      server.close();
    }
  }, 30_000);

  it.each([
    [{ findings: '{not json' }, 'findings'],
    [{ 'started-at': 'yesterday' }, 'started-at'],
    [{ outcome: 'fine' }, 'outcome'],
    [{ title: '' }, 'title'],
  ])('bad input %j is refused naming it, nothing written', async (bad, name) => {
    const run = await runActionBundle('action-incident-report', { title: 'x', ...bad });
    expect(run.exitCode).toBe(1);
    expect(run.errors.join('\n')).toContain(name);
    expect(run.errors.join('\n')).toContain('Nothing was changed');
    expect(Object.keys(run.runnerFiles).filter((p) => p.includes('/incidents/'))).toEqual([]);
  });
});
