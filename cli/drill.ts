/**
 * The drill: every procedure of the suite run through its committed bundle, as the GitHub runner
 * runs it, against a disposable local droplet — then everything is stopped by pid. It prints what
 * it did and how long each step took, and exits 1 if any step did not end as it should.
 * Later issues add their procedures as further steps.
 */
import {
  Droplet,
  makeRealAppRelease,
  runActionBundle,
  type ActionRun,
  type RealAppRelease,
  type SampleRelease,
} from '../sandbox/index.js';
import {
  currentRelease,
  hostInputs,
  hostWriteFile,
  killSshdAtSwitch,
  mountSmallDisk,
  runningAppInputs,
  sampleArtifact,
  sha,
  startDeployHost,
  type DeployHost,
} from '../sandbox/deploy-host.js';
import { FakeGithub, scopePath } from '../sandbox/fake-github.js';
import { WebhookReceiver } from '../sandbox/webhook-receiver.js';
import { startHostNginx } from '../sandbox/nginx.js';
import { ensureSystemPackages } from '../sandbox/system.js';
import { drillReport, failed, type ScenarioRecord } from './drill-report.js';
import { startOutageProbe } from '../bench/lib/outage.js';
import { startLoad } from '../bench/lib/load.js';
import { freePort } from '../sandbox/net.js';
import { startDatabaseHost } from '../sandbox/database-host.js';
import { tableContents } from '../sandbox/sample-data.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { repoRoot } from '../sandbox/action-runner.js';
import { runnerNode } from '../sandbox/runner-node.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface Step {
  name: string;
  expect: 'pass' | 'fail';
  run: () => Promise<ActionRun>;
}

const started = performance.now();
const startedAt = new Date().toISOString();
const since = () => `${((performance.now() - started) / 1000).toFixed(2)} s`;
// Two scenarios run at once (see the end): each line names the scenario it belongs to.
const inScenario = new AsyncLocalStorage<ScenarioRecord>();
/** Who the drill's incident steps run as: the audit lines and notifications name them. */
const DRILL_RUN = {
  GITHUB_ACTOR: 'drill-on-call',
  GITHUB_WORKFLOW: 'incident',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'bunty/api',
  GITHUB_RUN_ID: '2300',
};
const say = (line: string) => {
  const name = inScenario.getStore()?.name;
  console.log(`[${since().padStart(8)}] ${name ? `${name.padEnd(26)} ` : ''}${line}`);
};

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0]?.slice(0, 220) ?? '';
}

// --list names the scenarios; --only a,b runs those (names as --list prints them).
const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only =
  onlyAt === -1
    ? undefined
    : new Set(
        (args[onlyAt + 1] ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
const listing = args.includes('--list');
const scenarios: ScenarioRecord[] = [];
const known: string[] = [];
const queued: { record: ScenarioRecord; body: () => Promise<void>; first: boolean }[] = [];

const check = (ok: boolean, line: string) => {
  inScenario.getStore()?.checks.push({ ok, line, at: new Date().toISOString() });
  say(`${ok ? 'ok  ' : 'FAIL'} ${line}`);
};
/** The scenario measured the time from its injected failure to the service proven again. */
const recovered = (ms: number | undefined) => {
  const current = inScenario.getStore();
  if (current && ms !== undefined && Number.isFinite(ms)) current.recoveryMs = ms;
};
const skip = (why: string) => {
  const current = inScenario.getStore();
  if (current) current.skipped = why;
  say(`skip: ${why}`);
};

/**
 * Declares one named scenario (unless --only leaves it out); they run at the end. Each has its own
 * hosts, so they are independent: a throw fails that one, the others still run.
 */
async function scenario(
  name: string,
  summary: string,
  body: () => Promise<void>,
  options: { longest?: boolean } = {},
): Promise<void> {
  known.push(`${name}  ${summary}`);
  if (listing || (only && !only.has(name))) return;
  const record: ScenarioRecord = { name, summary, startedAt: '', checks: [] };
  scenarios.push(record);
  queued.push({ record, body, first: options.longest === true });
}

async function runScenario(record: ScenarioRecord, body: () => Promise<void>): Promise<void> {
  record.startedAt = new Date().toISOString();
  const t = performance.now();
  await inScenario.run(record, async () => {
    say(`── ${record.summary}`);
    try {
      await body();
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
      say(`FAIL stopped: ${firstLine(record.error)}`);
    } finally {
      record.durationMs = Math.round(performance.now() - t);
      record.endedAt = new Date().toISOString();
    }
  });
}

/**
 * Two at a time, the longest first: the scenarios wait on health gates, restarts and timeouts far
 * more than they compute, so two lanes keep the drill within its 150 s on two cores.
 */
async function runQueued(lanes: number): Promise<void> {
  const queue = [...queued.filter((q) => q.first), ...queued.filter((q) => !q.first)];
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await runScenario(next.record, next.body);
    }),
  );
}
// Every system program the drill uses, before anything starts: a fresh machine gets them installed
// (as root) or is told the one apt-get line — never a timeout half way through.
try {
  if (!listing) ensureSystemPackages(undefined, say);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
await scenario(
  'health-checks',
  'action-health against the sample app: healthy, a 503, a flapping app, a recovery',
  async () => {
    say('starting the sandbox droplet: PostgreSQL, sshd, pm2 …');
    const t0 = performance.now();
    const droplet = await Droplet.start({ postgres: true, sshd: true });
    say(`droplet up in ${Math.round(performance.now() - t0)} ms at ${droplet.root}`);
    try {
      const t1 = performance.now();
      const app = await droplet.startApp({ name: 'bunty-backend', releaseId: 'drill-v1' });
      say(
        `sample app bunty-backend (release drill-v1) online under pm2 in ${Math.round(performance.now() - t1)} ms at ${app.baseUrl}`,
      );
      const secrets = [droplet.postgres?.password ?? ''];
      const health = (inputs: Record<string, string>) =>
        runActionBundle('action-health', { url: app.healthUrl, interval: '200ms', ...inputs }, { secrets });

      const steps: Step[] = [
        {
          name: 'action-health: healthy app, release and database verified',
          expect: 'pass',
          run: () =>
            health({
              'expected-version': 'drill-v1',
              'database-url': droplet.postgres?.url ?? '',
              'success-threshold': '2',
            }),
        },
        {
          name: 'action-health: app answers 503 (database disconnected)',
          expect: 'fail',
          run: async () => {
            await droplet.setBehaviour(app, { mode: 'unavailable' });
            return health({ 'max-attempts': '3' });
          },
        },
        {
          name: 'action-health: app flaps between healthy and 503 (success-threshold 3)',
          expect: 'fail',
          run: async () => {
            await droplet.setBehaviour(app, { sequence: ['healthy', 'unavailable'], cycle: true });
            return health({ 'max-attempts': '6', 'success-threshold': '3' });
          },
        },
        {
          name: 'action-health: app recovers after two failures',
          expect: 'pass',
          run: async () => {
            await droplet.setBehaviour(app, { sequence: ['unavailable', 'unavailable', 'healthy'] });
            return health({ 'max-attempts': '5' });
          },
        },
      ];

      for (const step of steps) {
        const run = await step.run();
        const passed = run.exitCode === 0;
        const asExpected = passed === (step.expect === 'pass');
        check(
          asExpected,
          `${step.name}: exit ${run.exitCode} in ${run.durationMs} ms, ${run.outputs.attempts ?? '?'} attempt(s)`,
        );
        if (!passed) say(`       error: ${firstLine(run.errors[0])}`);
      }
    } finally {
      const t2 = performance.now();
      await droplet.stop();
      say(`droplet stopped, every process gone by pid, in ${Math.round(performance.now() - t2)} ms`);
    }
  },
);
await scenario(
  'deploy-and-rollback',
  'deploys and rollbacks on a host, a real app started the real way, faults at the switch',
  async () => {
    say('starting a deploy host: its own sshd (own mount namespace), pm2, app directory …');
    const host = await startDeployHost();
    say(`deploy host up at ${host.host}, app dir ${host.appDir}`);
    try {
      const secrets = [host.droplet.sshd?.privateKey ?? ''];
      const base = { ...hostInputs([host]), 'install-command': '', 'max-attempts': '5' };
      const deployStep = async (name: string, n: number, release: SampleRelease, expect: 'pass' | 'fail') => {
        const run = await runActionBundle(
          'action-deploy',
          { ...base, artifact: sampleArtifact(host, release), sha: sha(n) },
          { secrets },
        );
        const asExpected = (run.exitCode === 0) === (expect === 'pass');
        check(
          asExpected,
          `${name}: exit ${run.exitCode} in ${run.durationMs} ms, release ${run.outputs.release}, rolled back: ${run.outputs['rolled-back']}`,
        );
        if (run.exitCode !== 0) say(`       error: ${firstLine(run.errors[0])}`);
        return run;
      };
      await deployStep(
        'action-deploy: v1, first deploy, started under pm2 from current',
        1,
        { sha: sha(1) },
        'pass',
      );
      const broken = await deployStep(
        'action-deploy: v2 answers 503 → automatic rollback to v1',
        2,
        { sha: sha(2), mode: 'unavailable' },
        'fail',
      );
      const served = (await fetch(host.healthUrl)
        .then((r) => r.json())
        .catch(() => ({}))) as { releaseId?: string };
      const back = served.releaseId === sha(1) && broken.outputs['rolled-back'] === 'true';
      if (back) recovered(broken.durationMs);
      check(
        back,
        `v1 serves again: time to recover (the whole failed deploy, rollback verified) ${broken.durationMs} ms`,
      );
      await deployStep('action-deploy: v3, healthy', 3, { sha: sha(3) }, 'pass');
      const rolled = await runActionBundle('action-rollback', hostInputs([host]), { secrets });
      const rolledOk = rolled.exitCode === 0 && rolled.outputs.release !== '';
      check(
        rolledOk,
        `action-rollback: v3 → ${rolled.outputs.release} (previous good, skipping the bad v2), verified, in ${rolled.durationMs} ms`,
      );
      // The on-call view of it, from the standalone CLI and a runbook.yml (the key from RUNBOOK_SSH_KEY).
      const oncall = join(host.droplet.root, 'oncall');
      mkdirSync(oncall, { recursive: true });
      const { 'ssh-key': key, ...drillEnv } = hostInputs([host]);
      writeFileSync(join(oncall, 'runbook.yml'), stringify({ environments: { drill: drillEnv } }));
      const status = spawnSync(
        runnerNode,
        [join(repoRoot, 'cli', 'dist', 'runbook.mjs'), 'status', '--env', 'drill'],
        {
          cwd: oncall,
          env: { ...process.env, RUNBOOK_SSH_KEY: key },
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      check(
        status.status === 0 && status.stdout.includes(`| ${rolled.outputs.release} (`),
        `runbook status --env drill: what is live, ${rolled.outputs.release} rolled back to, exit ${status.status}`,
      );
      for (const line of status.stdout.trim().split('\n')) say(`       ${line}`);

      // An app shaped like real ones (issue 17): tsc into dist/, started from package.json, dotenv,
      // /health without a version — with only the inputs the reusable workflows pass.
      const real = await startDeployHost();
      try {
        hostWriteFile(
          real,
          `${real.appDir}/shared/.env`,
          `PORT=${real.port}\nHOST=127.0.0.1\nJWT_SECRET=drill-old-secret-0123456789\n`,
        );
        const realBase = { ...runningAppInputs([real]), 'install-command': '', 'max-attempts': '5' };
        const realSecrets = [real.droplet.sshd?.privateKey ?? '', 'drill-old-secret-0123456789'];
        const realDeploy = (n: number, release: RealAppRelease = {}) =>
          runActionBundle(
            'action-deploy',
            {
              ...realBase,
              artifact: makeRealAppRelease(join(real.droplet.root, 'artifacts', `r${n}`), release),
              sha: sha(n),
            },
            { secrets: realSecrets },
          );
        const r1 = await realDeploy(1);
        check(
          r1.exitCode === 0,
          `real-shaped app: deployed from package.json start (no app-script, no version in /health), proven by pm2's pid, start time and cwd, in ${r1.durationMs} ms${r1.errors[0] ? ` — ${firstLine(r1.errors[0])}` : ''}`,
        );
        const r2 = await realDeploy(2, { broken: 'crash-at-start' });
        check(
          r2.exitCode === 1 && r2.outputs['rolled-back'] === 'true',
          `real-shaped app: a build that crashes at start rolled back automatically in ${r2.durationMs} ms`,
        );
        const rot = await runActionBundle(
          'action-rotate-secret',
          { ...runningAppInputs([real]), name: 'JWT_SECRET', grace: 'none' },
          { secrets: realSecrets },
        );
        check(
          rot.exitCode === 0,
          `real-shaped app: JWT_SECRET rotated (grace: none, said plainly), proven in the running process's environment, in ${rot.durationMs} ms${rot.errors[0] ? ` — ${firstLine(rot.errors[0])}` : ''}`,
        );
      } finally {
        await real.droplet.stop();
      }

      // Faults of an unlucky night (issue 6): the connection lost at the switch, a release that never
      // binds its port, one that crashes at start caught by preflight, and a full disk.
      const before = currentRelease(host);
      const fault = killSshdAtSwitch(host, before, 5000);
      const lostProbe = startOutageProbe(host.healthUrl, 50);
      const lost = await runActionBundle(
        'action-deploy',
        {
          ...base,
          artifact: sampleArtifact(host, { sha: sha(4), mode: 'unavailable' }),
          sha: sha(4),
          'restore-deadline': '30s',
        },
        { secrets },
      );
      await fault;
      const lostOutage = await lostProbe.stop();
      const lostReport = JSON.parse(lost.outputs['hosts-report'] ?? '[]')[0] ?? {};
      check(
        lost.exitCode === 1 &&
          lostReport.restored === true &&
          lostReport.verified === true &&
          currentRelease(host) === before,
        `SSH lost at the switch (sshd killed by pid as current flipped, back 5 s later): restored to ${before} and verified in ${lost.durationMs} ms, lock freed; users saw the bad release for ${lostOutage.outageMs} ms`,
      );
      const t5 = performance.now();
      const silentProbe = startOutageProbe(host.healthUrl, 50);
      const silent = await runActionBundle(
        'action-deploy',
        {
          ...base,
          artifact: sampleArtifact(host, { sha: sha(5), mode: 'no-listen' }),
          sha: sha(5),
          'max-attempts': '1000',
          deadline: '2m',
        },
        { secrets, timeoutMs: 180_000 },
      );
      const silentOutage = await silentProbe.stop();
      check(
        silent.exitCode === 1 &&
          /start-timeout/.test(silent.errors[0] ?? '') &&
          currentRelease(host) === before,
        `a release that never binds its port, with the defaults (start-timeout 30s, deadline 2m): rolled back after ${Math.round(performance.now() - t5)} ms in all; users saw no answer for ${silentOutage.outageMs} ms`,
      );
      const probe = startOutageProbe(host.healthUrl, 20);
      const caught = await runActionBundle(
        'action-deploy',
        {
          ...base,
          artifact: sampleArtifact(host, { sha: sha(6), mode: 'crash-at-start' }),
          sha: sha(6),
          preflight: 'true',
          'start-timeout': '3s',
        },
        { secrets },
      );
      const outage = await probe.stop();
      check(
        caught.exitCode === 1 && outage.failedProbes === 0 && currentRelease(host) === before,
        `preflight: a release that crashes at start caught on a spare port in ${caught.durationMs} ms; ${outage.failedProbes} of ${outage.probes} probes failed`,
      );
    } finally {
      const t4 = performance.now();
      await host.droplet.stop();
      say(`deploy host stopped, every process gone by pid, in ${Math.round(performance.now() - t4)} ms`);
    }
  },
  { longest: true },
);
await scenario(
  'disk-full',
  'a deploy onto an 8 MiB disk that fills: refused before the switch, nothing serving changed',
  async () => {
    if (process.getuid?.() === 0) {
      say('starting a host whose app directory sits on an 8 MiB tmpfs …');
      const small = await startDeployHost();
      try {
        mountSmallDisk(small, 8);
        const secrets = [small.droplet.sshd?.privateKey ?? ''];
        const base = { ...hostInputs([small]), 'install-command': '' };
        const first = await runActionBundle(
          'action-deploy',
          { ...base, artifact: sampleArtifact(small, { sha: sha(1) }), sha: sha(1) },
          { secrets },
        );
        const big = sampleArtifact(small, { sha: sha(2) });
        writeFileSync(join(big, 'big.bin'), randomBytes(10 * 1024 * 1024));
        const refused = await runActionBundle(
          'action-deploy',
          { ...base, artifact: big, sha: sha(2) },
          { secrets },
        );
        const ok1 =
          first.exitCode === 0 &&
          refused.exitCode === 1 &&
          /^not enough disk space/.test(refused.errors[0] ?? '');
        check(
          ok1,
          `disk: a 10 MiB artifact refused before upload in ${refused.durationMs} ms: ${firstLine(refused.errors[0])}`,
        );
        const filled = await runActionBundle(
          'action-deploy',
          {
            ...base,
            artifact: sampleArtifact(small, { sha: sha(3) }),
            sha: sha(3),
            'install-command': 'head -c 20000000 /dev/zero > fill.bin',
          },
          { secrets },
        );
        const after = await runActionBundle(
          'action-deploy',
          { ...base, artifact: sampleArtifact(small, { sha: sha(4) }), sha: sha(4) },
          { secrets },
        );
        const ok2 =
          filled.exitCode === 1 && /^disk full on/.test(filled.errors[0] ?? '') && after.exitCode === 0;
        check(
          ok2,
          `disk: an install that fills the disk → "${firstLine(filled.errors[0]).slice(0, 120)}…"; cleaned up, the next deploy went through in ${after.durationMs} ms`,
        );
      } finally {
        await small.droplet.stop();
      }
    } else {
      skip("a tmpfs of the host's own needs root");
    }
  },
);
await scenario(
  'zero-downtime',
  'traffic: nginx in fork mode: a deploy and a rollback through nginx under constant load, failed requests counted',
  async () => {
    say('starting a host with nginx in front of pm2 (fork mode) …');
    const h = await startDeployHost();
    const nginx = await startHostNginx(h);
    try {
      const secrets = [h.droplet.sshd?.privateKey ?? ''];
      const traffic = {
        'health-url': `${nginx.url}/health`,
        traffic: 'nginx',
        'slot-ports': `${await freePort()},${await freePort()}`,
        'nginx-upstream-file': `${h.droplet.hostRoot}/etc/nginx-sandbox/sites/bunty-backend-upstream.conf`,
        'nginx-test-command': nginx.testCommand,
        'nginx-reload-command': nginx.reloadCommand,
      };
      const slots = { ...hostInputs([h]), ...traffic };
      const running = { ...runningAppInputs([h]), ...traffic };
      const deploy = (n: number, given: Record<string, string>) =>
        runActionBundle(
          'action-deploy',
          { ...given, 'install-command': '', artifact: sampleArtifact(h, { sha: sha(n) }), sha: sha(n) },
          { secrets },
        );
      const first = await deploy(1, hostInputs([h]));
      const setup = await runActionBundle(
        'action-ops',
        { ...running, operation: 'traffic-setup', 'nginx-site': nginx.site },
        { secrets },
      );
      check(
        first.exitCode === 0 && setup.exitCode === 0,
        `traffic-setup: the upstream written for the app serving now, the site's proxy_pass pointed at it (nginx -t, reload) in ${setup.durationMs} ms`,
      );
      // The first deploy in slots adopts the plain app; the next ones are the measured ones.
      const adopt = await deploy(2, slots);
      const underLoad = async (procedure: () => Promise<ActionRun>) => {
        const load = startLoad(`${nginx.url}/api/ping`, { connections: 20, rate: 400 });
        await new Promise((r) => setTimeout(r, 300));
        const run = await procedure();
        await new Promise((r) => setTimeout(r, 500));
        return { run, ...(await load.stop()) };
      };
      const deployed = await underLoad(() => deploy(3, slots));
      check(
        adopt.exitCode === 0 && deployed.run.exitCode === 0 && deployed.non2xx === 0,
        `deploy through nginx under load (20 keep-alive connections, 400 req/s): ${deployed.failed} of ${deployed.requests} requests failed (${deployed.non2xx} non-2xx, ${deployed.errors} resets), in ${deployed.run.durationMs} ms`,
      );
      const back = await underLoad(() => runActionBundle('action-rollback', slots, { secrets }));
      const served = await fetch(`${nginx.url}/health`).then(
        (r) => r.json() as Promise<{ releaseId: string }>,
      );
      check(
        back.run.exitCode === 0 && back.non2xx === 0 && served.releaseId === sha(2),
        `rollback through nginx under load (the previous slot still ran: only the upstream moved): ${back.failed} of ${back.requests} requests failed (${back.non2xx} non-2xx, ${back.errors} resets), in ${back.run.durationMs} ms`,
      );
    } finally {
      await nginx.stop();
      await h.droplet.stop();
    }
  },
);
await scenario(
  'rotation-and-incident',
  'a secret rotated on two hosts and in GitHub, an outage diagnosed, its post-mortem, the maintenance page',
  async () => {
    // Secret rotation (issue 9): the JWT secret rotated on two hosts and in GitHub with a grace window,
    // then a pasted key the app refuses on the second host — both hosts put back — then the grace closed.
    say('starting two app hosts and a local GitHub secrets API (checked against its OpenAPI description) …');
    const rotationHosts = await Promise.all([startDeployHost(), startDeployHost()]);
    const github = await FakeGithub.start();
    github.known.add(scopePath.repository('bunty', 'api'));
    try {
      const [a, b] = rotationHosts as [DeployHost, DeployHost];
      const oldKey = randomBytes(64).toString('base64');
      rotationHosts.forEach((h, i) =>
        writeFileSync(
          h.droplet.realPath(`${h.appDir}/shared/.env`),
          `# Bunty API\nPORT=${h.port}\nHOST=127.0.0.1\nJWT_SECRET="${oldKey}"\n${i === 1 ? 'SAMPLE_SECRET_MIN_LENGTH=60\n' : ''}`,
        ),
      );
      const secrets = [oldKey, github.token, ...rotationHosts.map((h) => h.droplet.sshd?.privateKey ?? '')];
      const deployInputs = hostInputs(rotationHosts);
      await runActionBundle(
        'action-deploy',
        { ...deployInputs, 'install-command': '', artifact: sampleArtifact(a, { sha: sha(1) }), sha: sha(1) },
        { secrets },
      );
      const rotateBase = runningAppInputs(rotationHosts);
      const rotateInputs = {
        ...rotateBase,
        name: 'JWT_SECRET',
        'verify-url': rotationHosts.map((h) => `http://127.0.0.1:${h.port}/keys`).join('\n'),
        'github-token': github.token,
        'github-repository': 'bunty/api',
      };
      const rotateEnv = { env: { GITHUB_API_URL: github.url }, secrets };
      const keysOf = async (h: DeployHost) =>
        (await (await fetch(`http://127.0.0.1:${h.port}/keys`)).json()) as Record<string, string | null>;
      const fp = (v: string) => createHash('sha256').update(v).digest('hex').slice(0, 8);
      const rotated = await runActionBundle('action-rotate-secret', rotateInputs, rotateEnv);
      const newKey = github.secret(scopePath.repository('bunty', 'api'), 'JWT_SECRET') ?? '';
      const held = await Promise.all(rotationHosts.map(keysOf));
      check(
        rotated.exitCode === 0 &&
          newKey !== '' &&
          held.every((k) => k.JWT_SECRET === fp(newKey) && k.JWT_SECRET_PREVIOUS === fp(oldKey)),
        `JWT rotation on 2 hosts + GitHub: ${fp(oldKey)} → ${fp(newKey)}, both apps hold the new key and the old one for the grace window (pm2 --update-env, proven at /keys), GitHub secret sealed and written, in ${rotated.durationMs} ms${rotated.errors[0] ? ` — ${firstLine(rotated.errors[0])}` : ''}`,
      );
      const pasted = randomBytes(20).toString('hex').slice(0, 40);
      const refused = await runActionBundle(
        'action-rotate-secret',
        { ...rotateInputs, value: pasted, 'start-timeout': '3s' },
        { ...rotateEnv, secrets: [...secrets, newKey, pasted] },
      );
      const after = await Promise.all(rotationHosts.map(keysOf));
      check(
        refused.exitCode === 1 &&
          refused.outputs.reverted === 'true' &&
          after.every((k) => k.JWT_SECRET === fp(newKey)) &&
          github.secret(scopePath.repository('bunty', 'api'), 'JWT_SECRET') === newKey,
        `a pasted key the app on ${b.host} refuses at start: both hosts put back, restarted and verified, GitHub untouched, in ${refused.durationMs} ms — ${firstLine(refused.errors[0]).slice(0, 100)}…`,
      );
      const retired = await runActionBundle(
        'action-rotate-secret',
        { ...rotateBase, name: 'JWT_SECRET', mode: 'retire-previous' },
        { secrets: [...secrets, newKey] },
      );
      const closed = await Promise.all(rotationHosts.map(keysOf));
      check(
        retired.exitCode === 0 && closed.every((k) => k.JWT_SECRET_PREVIOUS === null),
        `grace window closed (retire-previous): ${fp(oldKey)} removed from both hosts and from the running apps in ${retired.durationMs} ms`,
      );
      // First response (issue 10): an outage — the app stopped on one host — diagnosed as P0.
      const outageAt = new Date().toISOString();
      await a.droplet.pm2.command(['stop', 'bunty-backend']);
      const diagnosed = await runActionBundle(
        'action-diagnose',
        {
          hosts: rotateBase.hosts as string,
          'ssh-key': rotateBase['ssh-key'] as string,
          'known-hosts': rotateBase['known-hosts'] as string,
          'app-name': 'bunty-backend',
          'app-dir': a.appDir,
          'health-url': rotationHosts.map((h) => h.healthUrl).join('\n'),
          timeout: '2s',
        },
        { secrets: [...secrets, newKey] },
      );
      const findings = JSON.parse(diagnosed.outputs.findings ?? '[]') as {
        severity: string;
        where: string;
        check: string;
        why: string;
      }[];
      check(
        diagnosed.exitCode === 0 && diagnosed.outputs.severity === 'P0' && findings[0]?.where === a.host,
        `an outage (the app stopped on ${a.host}) diagnosed as ${diagnosed.outputs.severity} in ${diagnosed.durationMs} ms, ${findings.length} finding(s), nothing changed:`,
      );
      for (const f of findings) say(`       ${f.severity} ${f.where} ${f.check}: ${f.why.slice(0, 130)}`);
      // Communicate and mitigate (issue 23): the incident workflow's restart on both hosts, its start and
      // end told to the team's webhook (a local receiver, in Slack's block format), an audit line on each.
      const receiver = await WebhookReceiver.start();
      try {
        const hook = receiver.url('/services/T0DRILL/B0DRILL/drill');
        const restarted = await runActionBundle(
          'action-ops',
          {
            ...rotateBase,
            operation: 'restart',
            confirm: 'bunty-backend',
            'notify-url': hook,
            'notify-on': 'always',
            severity: diagnosed.outputs.severity ?? '',
          },
          { secrets: [...secrets, newKey, hook], env: DRILL_RUN },
        );
        const told = receiver.messages.map((m) => String(m.json?.text ?? ''));
        check(
          restarted.exitCode === 0 && told.length === 2 && receiver.violations.length === 0,
          `ops restart on both hosts in ${restarted.durationMs} ms; the team's webhook got ${told.length} Slack messages:`,
        );
        for (const text of told) say(`       ${text}`);
      } finally {
        await receiver.stop();
      }
      const auditOf = (h: DeployHost) =>
        readFileSync(h.droplet.realPath(`${h.appDir}/.runbook/audit.log`), 'utf8')
          .trim()
          .split('\n');
      const audits = rotationHosts.map(auditOf);
      check(
        audits.every((lines) => lines.length >= 4 && /"operation":"ops restart"/.test(lines.at(-1) ?? '')),
        `audit lines on both hosts (<app-dir>/.runbook/audit.log): ${audits.map((l) => l.length).join(' and ')}; the last of each:`,
      );
      for (const lines of audits) say(`       ${lines.at(-1)?.slice(0, 400)}`);
      // The incident workflow's last step (issue 11): the post-mortem template from the run, the
      // diagnosis's findings in it, recovery proven at the health URL, and (issue 23) a Timeline from
      // both hosts' audit trails.
      const report = await runActionBundle(
        'action-incident-report',
        {
          title: 'bunty-backend down on one host (drill)',
          outcome: 'success',
          operation: 'restart',
          'started-at': outageAt,
          findings: diagnosed.outputs.findings ?? '',
          'health-url': a.healthUrl,
          hosts: rotateBase.hosts as string,
          'ssh-key': rotateBase['ssh-key'] as string,
          'known-hosts': rotateBase['known-hosts'] as string,
          'app-dir': a.appDir,
        },
        { secrets: [...secrets, newKey], env: DRILL_RUN },
      );
      const written = report.runnerFiles[report.outputs.path ?? ''] ?? '';
      const recoveredIn = /recovered in (\d+) s/.exec(written)?.[1];
      if (recoveredIn) recovered(Number(recoveredIn) * 1000);
      const timeline = /## Timeline\n([\s\S]*?)\n## /.exec(written)?.[1] ?? '';
      const rows = timeline.split('\n').filter((l) => l.startsWith('| 20'));
      check(
        report.exitCode === 0 &&
          report.outputs.recovered === 'true' &&
          /^## Lessons Learned$/m.test(written) &&
          rows.filter((r) => /ops restart succeeded/.test(r)).length === 2,
        `incident report ${basename(report.outputs.path ?? '')}: severity ${/\| Severity \| (\S+)/.exec(written)?.[1]}, ${findings.length} findings under Root Cause, ${/recovered in \d+ s/.exec(written)?.[0] ?? 'NOT recovered'} (proven at /health), in ${report.durationMs} ms; its Timeline (${rows.length} rows, both hosts' audit trail):${report.exitCode !== 0 ? ` — exit ${report.exitCode}: ${firstLine(report.errors[0] ?? report.stderr.slice(-600))}` : ''}`,
      );
      for (const row of rows) say(`       ${row.slice(0, 220)}`);
      // Emergency procedure: the maintenance page through nginx, on and off, each verified at the site.
      const nginx = await startHostNginx(a);
      try {
        const site = {
          ...rotateBase,
          hosts: a.host,
          'health-url': a.healthUrl,
          'site-url': `${nginx.url}/health`,
          'nginx-site': nginx.site,
          'nginx-snippet': `${nginx.snippets}/bunty-maintenance.conf`,
          'maintenance-flag': `${a.appDir}/shared/maintenance/on`,
          'maintenance-page-dir': `${a.appDir}/shared/maintenance/page`,
          'nginx-test-command': nginx.testCommand,
          'nginx-reload-command': nginx.reloadCommand,
        };
        const opsRun = (operation: string, extra: Record<string, string> = {}) =>
          runActionBundle('action-ops', { ...site, operation, ...extra }, { secrets });
        const setup = await opsRun('maintenance-setup');
        const on = await opsRun('maintenance-on', { confirm: 'bunty-backend' });
        const during = await fetch(`${nginx.url}/api/ping`).then((r) => r.status);
        const off = await opsRun('maintenance-off');
        const after = await fetch(`${nginx.url}/health`).then((r) => r.status);
        check(
          setup.exitCode === 0 && on.exitCode === 0 && during === 503 && off.exitCode === 0 && after === 200,
          `maintenance page through nginx: set up (nginx -t, reload) in ${setup.durationMs} ms; on → users get 503 + the page in ${on.durationMs} ms; off → the app again in ${off.durationMs} ms`,
        );
      } finally {
        await nginx.stop();
      }
    } finally {
      await github.stop();
      await Promise.all(rotationHosts.map((h) => h.droplet.stop()));
      say('rotation hosts stopped by pid');
    }
  },
);
await scenario(
  'backup-restore-migrations',
  'backups proven by restore, data loss recovered, a failing migration, a lock cleared',
  async () => {
    // Backups that are proven to restore (issue 7): the nightly backup copied to the droplet, the weekly
    // verification by restore into a scratch server, then data loss and the recovery from the last
    // verified backup, rows checked table by table — with the time to recover.
    say('starting a database droplet (PostgreSQL + sshd) and a scratch server …');
    const [dbHost, scratchHost] = await Promise.all([startDatabaseHost({ sshd: true }), startDatabaseHost()]);
    try {
      const { name, url } = await dbHost.freshDatabase();
      const sshd = dbHost.droplet.sshd as NonNullable<typeof dbHost.droplet.sshd>;
      const secrets = [dbHost.postgres.password, scratchHost.postgres.password, sshd.privateKey];
      const backups = join(dbHost.droplet.root, 'runner-backups');
      const before = await tableContents(url);
      const nightly = await runActionBundle(
        'action-db-backup',
        {
          'database-url': url,
          path: backups,
          'ssh-host': `${sshd.user}@${sshd.host}:${sshd.port}`,
          'ssh-key': sshd.privateKey,
          'known-hosts': sshd.knownHosts,
          'remote-dir': `${dbHost.droplet.hostRoot}/var/backups/bunty`,
        },
        { secrets },
      );
      const tables = JSON.parse(nightly.outputs.tables ?? '{}') as Record<string, number>;
      check(
        nightly.exitCode === 0 &&
          nightly.outputs.verified === 'true' &&
          nightly.outputs['remote-path'] !== '',
        `nightly backup: ${Object.keys(tables).length} tables, ${Object.values(tables).reduce((a, b) => a + b, 0)} rows counted in the dump's snapshot, ${nightly.outputs.bytes} bytes, verified (list), copied to the droplet, in ${nightly.durationMs} ms${nightly.errors[0] ? ` — ${firstLine(nightly.errors[0])}` : ''}`,
      );
      const weekly = await runActionBundle(
        'action-db-backup',
        {
          mode: 'verify',
          backup: nightly.outputs.manifest ?? '',
          level: 'restore',
          'scratch-database-url': scratchHost.superuser(),
        },
        { secrets },
      );
      check(
        weekly.exitCode === 0 && weekly.outputs.verified === 'true',
        `weekly verification by restore into a scratch server: every table's rows match the manifest; restore ${weekly.outputs['restore-ms']} ms, step ${weekly.durationMs} ms${weekly.errors[0] ? ` — ${firstLine(weekly.errors[0])}` : ''}`,
      );
      await dbHost.sql(name, 'DROP TABLE ledger.entries CASCADE');
      say('     data loss: ledger.entries dropped (and the view that used it)');
      // The incident workflow's restore: the backup kept on the droplet, its latest link followed there.
      const recovery = await runActionBundle(
        'action-db-backup',
        {
          mode: 'restore',
          'database-url': url,
          backup: `${dbHost.droplet.hostRoot}/var/backups/bunty/${name}-latest.dump`,
          'from-host': 'true',
          'ssh-host': `${sshd.user}@${sshd.host}:${sshd.port}`,
          'ssh-key': sshd.privateKey,
          'known-hosts': sshd.knownHosts,
          confirm: name,
          path: join(backups, 'fetched'),
        },
        { secrets },
      );
      const same = JSON.stringify(await tableContents(url)) === JSON.stringify(before);
      if (recovery.exitCode === 0 && same) recovered(recovery.durationMs);
      check(
        recovery.exitCode === 0 && recovery.outputs.restored === 'true' && same,
        `recovered from the verified backup kept on the droplet (${name}-latest.dump followed and fetched over SFTP, sha256 checked) after a safety backup, rows checked against the manifest and compared row by row: time to recover ${recovery.durationMs} ms (restore itself ${recovery.outputs['restore-ms']} ms)${recovery.errors[0] ? ` — ${firstLine(recovery.errors[0])}` : ''}`,
      );
      // Migrations (issue 8): one that fails halfway leaves nothing of itself and the app healthy; a long
      // query holding a lock is found and terminated, and nothing else is touched.
      const app = await dbHost.droplet.startApp({ name: 'bunty-backend', releaseId: 'drill-db' });
      const migrations = join(dbHost.droplet.root, 'migrations');
      mkdirSync(migrations);
      writeFileSync(
        join(migrations, '001_referrals.sql'),
        'CREATE TABLE referrals (id serial PRIMARY KEY, code text NOT NULL);\n',
      );
      writeFileSync(
        join(migrations, '002_rewards.sql'),
        'CREATE TABLE rewards (id serial PRIMARY KEY, amount numeric NOT NULL);\n-- squawk-ignore adding-foreign-key-constraint\nALTER TABLE users ADD COLUMN reward_id int REFERENCES rewards(id);\nUPDATE users SET reward_id = 1; -- no reward 1: the foreign key fails\n',
      );
      const migrated = await runActionBundle(
        'action-db-migrate',
        {
          'database-url': url,
          'migrations-dir': migrations,
          'backup-manifest': nightly.outputs.manifest ?? '',
        },
        { secrets },
      );
      const applied = await dbHost.sql<{ v: string }>(
        name,
        'SELECT version::text AS v FROM runbook_migrations',
      );
      const rewards = await dbHost.sql<{ ok: boolean }>(
        name,
        "SELECT to_regclass('rewards') IS NOT NULL AS ok",
      );
      const healthy = await runActionBundle(
        'action-health',
        { url: app.healthUrl, 'database-url': url, interval: '200ms' },
        { secrets },
      );
      check(
        migrated.exitCode === 1 &&
          applied.map((r) => r.v).join() === '1' &&
          rewards[0]?.ok === false &&
          healthy.exitCode === 0,
        `migration 002 failing halfway (gated on the nightly backup): 001 applied, nothing of 002 left (its table rolled back), the app and database still healthy, in ${migrated.durationMs} ms — ${firstLine(migrated.errors[0]).slice(0, 110)}…`,
      );
      const pg = await import('pg');
      const stuck = new pg.default.Client({ connectionString: url, application_name: 'stuck-report' });
      const bystander = new pg.default.Client({ connectionString: url, application_name: 'bystander' });
      stuck.on('error', () => undefined);
      await Promise.all([stuck.connect(), bystander.connect()]);
      await stuck.query('BEGIN');
      await stuck.query('SELECT * FROM users FOR UPDATE');
      const stuckQuery = stuck.query('SELECT pg_sleep(120)').catch((error: Error) => error);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const cleared = await runActionBundle(
        'action-db-migrate',
        {
          'database-url': url,
          mode: 'maintenance',
          tasks: 'locks,long-queries',
          'long-query-after': '2s',
          terminate: 'true',
        },
        { secrets },
      );
      const terminated = JSON.parse(cleared.outputs.report ?? '{}')['long-queries']?.terminated ?? [];
      const bystanderAlive = await bystander.query('SELECT 1').then(
        () => true,
        () => false,
      );
      check(
        cleared.exitCode === 0 &&
          terminated.length === 1 &&
          (await stuckQuery) instanceof Error &&
          bystanderAlive,
        `a transaction holding row locks for minutes: found and terminated by long-queries (pid ${terminated[0]}), the lock freed, the other session untouched, in ${cleared.durationMs} ms`,
      );
      await Promise.all([stuck.end().catch(() => undefined), bystander.end()]);
    } finally {
      await Promise.all([dbHost.droplet.stop(), scratchHost.droplet.stop()]);
      say('database droplets stopped by pid');
    }
  },
);
await scenario(
  'migrations-on-production-data',
  'a migration rehearsed on a restored copy and stopped for its lock; a code rollback refused past a migration, then done with it',
  async () => {
    say('starting a deploy host, a database droplet and a scratch server …');
    const [host, dbHost, scratchHost] = await Promise.all([
      startDeployHost(),
      startDatabaseHost(),
      startDatabaseHost(),
    ]);
    try {
      const { name, url } = await dbHost.freshDatabase();
      const secrets = [
        host.droplet.sshd?.privateKey ?? '',
        dbHost.postgres.password,
        scratchHost.postgres.password,
      ];
      const migrations = join(host.droplet.root, 'migrations');
      mkdirSync(migrations);
      const deploy = (n: number, applied: string) =>
        runActionBundle(
          'action-deploy',
          {
            ...hostInputs([host]),
            'install-command': '',
            artifact: sampleArtifact(host, { sha: sha(n) }),
            sha: sha(n),
            migrations: applied,
          },
          { secrets },
        );
      const v1 = await deploy(1, '');
      const backup = await runActionBundle(
        'action-db-backup',
        { 'database-url': url, path: join(dbHost.droplet.root, 'backups') },
        { secrets },
      );
      // A backfill written the slow way: the whole users table locked while it runs.
      writeFileSync(
        join(migrations, '003_referral_codes.sql'),
        '-- squawk-ignore adding-field-with-default\nALTER TABLE users ADD COLUMN referral_code text DEFAULT substr(md5(random()::text), 1, 8);\nSELECT pg_sleep(1.5); -- stands in for the rewrite of a table of millions of rows\n',
      );
      const gate = {
        'database-url': url,
        'migrations-dir': migrations,
        'backup-manifest': backup.outputs.manifest ?? '',
        'scratch-database-url': scratchHost.superuser(),
        'rehearse-max-lock': 'AccessExclusiveLock 1s 100',
        rehearse: 'true',
      };
      const stopped = await runActionBundle('action-db-migrate', gate, { secrets });
      const rehearsal = JSON.parse(stopped.outputs.rehearsal || '{}') as {
        files?: {
          file: string;
          durationMs: number;
          locks: { table: string; mode: string; heldMs: number; rows: number }[];
        }[];
      };
      const lock = rehearsal.files?.[0]?.locks[0];
      const column = await dbHost.sql<{ n: string }>(
        name,
        "SELECT count(*)::text AS n FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'referral_code'",
      );
      check(
        backup.exitCode === 0 &&
          stopped.exitCode === 1 &&
          lock?.mode === 'AccessExclusiveLock' &&
          column[0]?.n === '0',
        `rehearsal on the verified backup restored into a scratch server: 003_referral_codes.sql held ${lock?.mode} on ${lock?.table} (~${lock?.rows} rows) for ${lock?.heldMs} ms, over rehearse-max-lock (AccessExclusiveLock 1s on more than 100 rows); production untouched, in ${stopped.durationMs} ms — ${firstLine(stopped.errors[0]).slice(0, 150)}…`,
      );
      // Rewritten the safe way (a nullable column, no rewrite), with its rollback; rehearsed, then applied.
      writeFileSync(
        join(migrations, '003_referral_codes.sql'),
        'ALTER TABLE users ADD COLUMN IF NOT EXISTS referral_code text;\n',
      );
      writeFileSync(
        join(migrations, '003_referral_codes_rollback.sql'),
        'ALTER TABLE users DROP COLUMN referral_code;\n',
      );
      const applied = await runActionBundle('action-db-migrate', gate, { secrets });
      const v2 = await deploy(2, applied.outputs.applied ?? '');
      check(
        v1.exitCode === 0 && applied.exitCode === 0 && v2.exitCode === 0,
        `rewritten without the rewrite: rehearsed (${JSON.parse(applied.outputs.rehearsal || '{}').files?.[0]?.durationMs} ms on the copy), applied, and ${v2.outputs.release} deployed with it in its release log line`,
      );
      const rollback = (extra: Record<string, string>) =>
        runActionBundle(
          'action-rollback',
          { ...hostInputs([host]), 'migrations-dir': migrations, ...extra },
          { secrets },
        );
      const refused = await rollback({});
      check(
        refused.exitCode === 1 &&
          /older than migration 003_referral_codes\.sql/.test(refused.errors.join(' ')) &&
          currentRelease(host) === v2.outputs.release,
        `rollback to ${v1.outputs.release} refused, nothing changed: ${firstLine(refused.errors[0]).slice(0, 160)}…`,
      );
      const done = await rollback({
        'rollback-migrations': 'true',
        'database-url': url,
        'backup-manifest': backup.outputs.manifest ?? '',
      });
      const gone = await dbHost.sql<{ n: string }>(
        name,
        "SELECT count(*)::text AS n FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'referral_code'",
      );
      check(
        done.exitCode === 0 && currentRelease(host) === v1.outputs.release && gone[0]?.n === '0',
        `rollback-migrations: 003 rolled back with its _rollback.sql (gated on the verified backup), then the code back to ${v1.outputs.release}, under one lease, in ${done.durationMs} ms — migrations rolled back: ${done.outputs['migrations-rolled-back']}`,
      );
    } finally {
      await Promise.all([host.droplet.stop(), dbHost.droplet.stop(), scratchHost.droplet.stop()]);
      say('hosts stopped by pid');
    }
  },
);
if (listing) {
  for (const line of known) console.log(line);
} else {
  await runQueued(2);
  if (only) {
    const unknown = [...only].filter((name) => !known.some((k) => k.startsWith(`${name} `)));
    if (unknown.length) {
      console.error(`drill: no scenario named ${unknown.join(', ')}; --list names them.`);
      process.exit(2);
    }
  }
  const bad = scenarios.filter(failed);
  writeFileSync(
    'drill-report.md',
    drillReport(scenarios, startedAt, Math.round(performance.now() - started)),
  );
  say('drill-report.md written: every scenario, its result and time to recover');
  say(
    bad.length === 0
      ? 'drill passed: every scenario ended as it should'
      : `drill FAILED: ${bad.map((s) => s.name).join(', ')} did not end as they should`,
  );
  process.exitCode = bad.length === 0 ? 0 : 1;
}
