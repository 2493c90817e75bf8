/**
 * What a mutating run leaves behind and tells (shared/src/audit/record.ts), through the committed
 * bundles against two sandbox hosts (real sshd, pm2, the sample app) and a local webhook receiver:
 * the audit line on each host (atomic, rotated at audit-max-bytes, no secret), `runbook audit` reading
 * them back, the notification (plain JSON and Slack's blocks, redacted), a receiver that fails or hangs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runActionBundle, runnerNode, type ActionRun } from '../../sandbox/index.js';
import { repoRoot } from '../../sandbox/action-runner.js';
import {
  deployHostPool,
  hostInputs,
  runningAppInputs,
  sampleArtifact,
  sha,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { WebhookReceiver } from '../../sandbox/webhook-receiver.js';
import { FakeGithub } from '../../sandbox/fake-github.js';
import type { AuditEvent } from '../../shared/src/audit/audit-log.js';

const pool = deployHostPool();
let hosts: DeployHost[];
let receiver: WebhookReceiver;
const TOKEN = 'tok_live_9f8e7d6c5b4a39281706';
const RUN = {
  GITHUB_ACTOR: 'octocat',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'bunty/api',
  GITHUB_RUN_ID: '4242',
};

const warnings = (run: ActionRun) =>
  run.annotations
    .filter((a) => a.level === 'warning')
    .map((a) => a.message)
    .join('\n');
const secrets = () => [TOKEN, hosts[0]?.droplet.sshd?.privateKey ?? '', receiver.url()];
const auditFile = (h: DeployHost) => h.droplet.realPath(`${h.appDir}/.runbook/audit.log`);
const auditLines = (h: DeployHost): AuditEvent[] =>
  readFileSync(auditFile(h), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEvent);

beforeAll(async () => {
  [hosts, receiver] = await Promise.all([Promise.all([pool.host(), pool.host()]), WebhookReceiver.start()]);
  const first = await runActionBundle(
    'action-deploy',
    {
      ...hostInputs(hosts),
      'install-command': '',
      artifact: sampleArtifact(hosts[0] as DeployHost, { sha: sha(1) }),
      sha: sha(1),
    },
    { secrets: secrets(), env: RUN },
  );
  expect(first.errors).toEqual([]);
}, 90_000);
afterAll(async () => {
  await receiver.stop();
  await pool.stopAll();
});

describe('audit lines and notifications', () => {
  it('a deploy that rolls back itself: one audit line on each host, the receiver told in plain JSON', async () => {
    const [a] = hosts as [DeployHost, DeployHost];
    const before = auditLines(a).length;
    const run = await runActionBundle(
      'action-deploy',
      {
        ...hostInputs(hosts),
        'install-command': '',
        artifact: sampleArtifact(a, { sha: sha(2), mode: 'unhealthy' }),
        sha: sha(2),
        deadline: '3s',
        'notify-url': receiver.url(),
        environment: 'production',
      },
      { secrets: secrets(), env: RUN },
    );
    expect(run.exitCode).toBe(1);
    expect(run.outputs['rolled-back']).toBe('true');
    const told = receiver.messages.at(-1)?.json ?? {};
    expect(told).toMatchObject({
      source: 'runbook-actions',
      event: 'deploy',
      outcome: 'failed',
      environment: 'production',
      actor: 'octocat',
      runUrl: 'https://github.com/bunty/api/actions/runs/4242',
      hosts: hosts.map((h) => h.host),
    });
    expect(String(told.detail)).toMatch(/^Rolled back automatically\./);
    for (const h of hosts) {
      const lines = auditLines(h);
      expect(lines.length).toBe(before + 1);
      expect(lines.at(-1)).toMatchObject({
        host: h.host,
        operation: 'deploy',
        outcome: 'failed',
        actor: 'octocat',
        via: 'https://github.com/bunty/api/actions/runs/4242',
        environment: 'production',
        inputs: { sha: sha(2) },
      });
      expect(lines.at(-1)?.before?.release).toBeTruthy();
      expect(readFileSync(auditFile(h), 'utf8')).not.toContain('PRIVATE KEY');
    }
    expect(receiver.violations).toEqual([]);
  });

  it('ops restart under notify-on: always: its start and end in Slack blocks, a secret in its failure never sent', async () => {
    const sent = receiver.messages.length;
    const slack = receiver.url('/services/T0001/B0001/xyz');
    const run = await runActionBundle(
      'action-ops',
      {
        ...runningAppInputs(hosts),
        operation: 'restart',
        confirm: 'bunty-backend',
        redact: TOKEN,
        // Nothing listens there: the health gate fails, and its message holds the URL with the token.
        'health-url': `http://127.0.0.1:9/health?key=${TOKEN}`,
        deadline: '2s',
        'notify-url': slack,
        'notify-on': 'always',
        severity: 'P1',
      },
      { secrets: secrets(), env: RUN },
    );
    expect(run.exitCode).toBe(1);
    const mine = receiver.messages.slice(sent);
    expect(mine.map((m) => m.path)).toEqual(['/services/T0001/B0001/xyz', '/services/T0001/B0001/xyz']);
    expect(mine.map((m) => String(m.json?.text))).toEqual([
      expect.stringMatching(/P1 ops restart: started/),
      expect.stringMatching(/P1 ops restart: failed/),
    ]);
    expect(JSON.stringify(mine.at(-1)?.json?.blocks)).toMatch(/key=\*\*\*/);
    for (const m of mine) expect(m.body).not.toContain(TOKEN);
    expect(receiver.violations).toEqual([]);
    for (const h of hosts) {
      const line = auditLines(h).at(-1);
      expect(line).toMatchObject({ operation: 'ops restart', outcome: 'failed' });
      expect(JSON.stringify(line)).not.toContain(TOKEN);
    }
  });

  it('a receiver that answers 500 or hangs is a warning, and the operation stands', async () => {
    receiver.failNext(500);
    const refused = await runActionBundle(
      'action-ops',
      {
        ...runningAppInputs(hosts),
        operation: 'reload',
        'notify-url': receiver.url(),
        'notify-on': 'always',
      },
      { secrets: secrets(), env: RUN },
    );
    expect(refused.exitCode).toBe(0);
    expect(warnings(refused)).toMatch(/notification to http:\/\/127\.0\.0\.1:\d+ was refused \(500/);
    receiver.failNext('hang', 2);
    const hung = await runActionBundle(
      'action-ops',
      {
        ...runningAppInputs(hosts),
        operation: 'reload',
        'notify-url': receiver.url(),
        'notify-on': 'always',
        'notify-timeout': '1s',
      },
      { secrets: secrets(), env: RUN },
    );
    expect(hung.exitCode).toBe(0);
    expect(warnings(hung)).toMatch(/notification to .* failed \(.*within 1 s\)/);
    expect(hung.outputs.result).toBe('done');
  });

  it('the audit file is rotated at audit-max-bytes, one line per write, and read back by runbook audit', async () => {
    const [a, b] = hosts as [DeployHost, DeployHost];
    const good = await runActionBundle(
      'action-deploy',
      {
        ...hostInputs(hosts),
        'install-command': '',
        artifact: sampleArtifact(a, { sha: sha(3) }),
        sha: sha(3),
      },
      { secrets: secrets(), env: RUN },
    );
    expect(good.errors).toEqual([]);
    const filler =
      `${JSON.stringify({ at: '2026-01-01T00:00:00Z', operation: 'old', host: a.host })}\n`.repeat(400);
    writeFileSync(auditFile(a), filler);
    const run = await runActionBundle(
      'action-rollback',
      {
        ...hostInputs(hosts),
        'audit-max-bytes': '16KiB',
        'notify-url': receiver.url(),
        'notify-on': 'never',
      },
      { secrets: secrets(), env: RUN },
    );
    expect(run.errors).toEqual([]);
    expect(readFileSync(`${auditFile(a)}.1`, 'utf8')).toBe(filler);
    expect(auditLines(a)).toEqual([
      expect.objectContaining({ operation: 'rollback', outcome: 'succeeded', host: a.host }),
    ]);
    const work = mkdtempSync(join(tmpdir(), 'runbook-audit-'));
    try {
      const key = join(work, 'key');
      writeFileSync(key, a.droplet.sshd?.privateKey ?? '', { mode: 0o600 });
      const inputs = hostInputs(hosts);
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      const out = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(
          runnerNode,
          [
            join(repoRoot, 'cli/dist/runbook.mjs'),
            'audit',
            '--hosts',
            inputs.hosts as string,
            '--ssh-key',
            `@${key}`,
            '--known-hosts',
            inputs['known-hosts'] as string,
            '--app-dir',
            a.appDir,
            '--since',
            '1h',
            '--json',
          ],
          { env },
          (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
        ),
      );
      expect(out.code).toBe(0);
      const events = JSON.parse((JSON.parse(out.stdout) as { audit: string }).audit) as AuditEvent[];
      // Newest first, both hosts, the rotated generation's old lines left out by --since.
      expect(events[0]).toMatchObject({ operation: 'rollback' });
      expect(new Set(events.map((e) => e.host))).toEqual(new Set([a.host, b.host]));
      expect(events.some((e) => e.operation === 'old')).toBe(false);
      expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort().reverse());
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('bad notify input: named, exit 1, nothing changed and nothing written', async () => {
    const [a] = hosts as [DeployHost, DeployHost];
    const before = readFileSync(auditFile(a), 'utf8');
    const run = await runActionBundle(
      'action-ops',
      { ...runningAppInputs(hosts), operation: 'restart', confirm: 'bunty-backend', 'notify-url': 'ftp://x' },
      { secrets: secrets(), env: RUN },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/notify-url.*http\(s\)/);
    expect(readFileSync(auditFile(a), 'utf8')).toBe(before);
  });

  it("keeps GitHub's deployments true on a GHES root: in_progress → success, a failure rolled back, a rollback moving the active one", async () => {
    const [a] = hosts as [DeployHost, DeployHost];
    const github = await FakeGithub.start({ prefix: '/api/v3' });
    github.deployments.set('repos/bunty/api', []);
    try {
      const gh = { 'github-token': github.token, environment: 'production' };
      const env = { ...RUN, GITHUB_API_URL: github.url };
      const deploy = (n: number, mode?: 'unhealthy') =>
        runActionBundle(
          'action-deploy',
          {
            ...hostInputs(hosts),
            ...gh,
            'install-command': '',
            artifact: sampleArtifact(a, { sha: sha(n), ...(mode ? { mode } : {}) }),
            sha: sha(n),
            deadline: mode ? '3s' : '20s',
          },
          { secrets: [...secrets(), github.token], env },
        );
      expect((await deploy(4)).errors).toEqual([]);
      const good = await deploy(5);
      expect(good.errors).toEqual([]);
      const bad = await deploy(6, 'unhealthy');
      expect(bad.outputs['rolled-back']).toBe('true');
      const back = await runActionBundle(
        'action-rollback',
        { ...hostInputs(hosts), ...gh },
        { secrets: [...secrets(), github.token], env },
      );
      expect(back.errors).toEqual([]);
      const [d4, d5, d6] = github.deployments.get('repos/bunty/api') ?? [];
      expect([d4?.sha, d5?.sha, d6?.sha]).toEqual([sha(4), sha(5), sha(6)]);
      expect(d4?.payload).toMatchObject({ app: 'bunty-backend', hosts: hosts.map((h) => h.host) });
      expect(d5?.statuses.map((st) => st.state)).toEqual(['in_progress', 'success', 'inactive']);
      expect(d5?.statuses[1]).toMatchObject({
        description: `release ${good.outputs.release} live`,
        logUrl: 'https://github.com/bunty/api/actions/runs/4242',
        environmentUrl: new URL(a.healthUrl).origin,
      });
      expect(d6?.statuses.map((st) => st.state)).toEqual(['in_progress', 'failure']);
      expect(d6?.statuses[1]?.description).toMatch(/^failed; rolled back to \S+: /);
      expect(d4?.statuses.map((st) => st.state)).toEqual(['in_progress', 'success', 'success']);
      expect(d4?.statuses[2]?.description).toMatch(/^live again: rolled back to .* by octocat$/);
      for (const d of [d4, d5, d6])
        for (const st of d?.statuses ?? []) expect(st.description.length).toBeLessThanOrEqual(140);
      expect(github.requests.every((r) => r.path.startsWith('/api/v3/'))).toBe(true);
      expect(github.violations).toEqual([]);
    } finally {
      await github.stop();
    }
  });
});
