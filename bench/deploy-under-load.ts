/**
 * Failed requests during a deploy and a rollback under constant load, ours against the runbook's
 * own procedure (`mv app app-broken; mv app-previous app; pm2 restart app`), each in pm2 fork and
 * cluster mode, all measured the same way in this one run; then the time from triggering a
 * rollback to the first answer from the target release and to its verified health.
 *
 * Goals: cluster mode 0 failed requests for deploy and rollback; fork mode no worse than the
 * runbook's restart; rollback first answer ≤ 1.5 s and verified ≤ 3 s, SSH connect included.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import http from 'node:http';
import { ACTION_SPECS } from '../cli/action-specs.js';
import { startHostNginx } from '../sandbox/nginx.js';
import { freePort as slotPortFree } from '../sandbox/net.js';
import { freePort, runActionBundle } from '../sandbox/index.js';
import {
  hostInputs,
  openHostSession,
  sampleArtifact,
  sha,
  startDeployHost,
  type DeployHost,
} from '../sandbox/deploy-host.js';
import { repoRoot } from '../sandbox/action-runner.js';
import { runnerNode } from '../sandbox/runner-node.js';
import { sh } from '../shared/src/ssh/shell.js';
import { startLoad, type LoadResult } from './lib/load.js';
import { startOutageProbe, type Outage } from './lib/outage.js';

type Mode = 'fork' | 'cluster';
const TAIL_MS = 1000;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const TIMING_TRIALS = Number(process.env.BENCH_TIMING_TRIALS ?? 5);
const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

function inputs(h: DeployHost, mode: Mode): Record<string, string> {
  return {
    ...hostInputs([h]),
    'pm2-exec-mode': mode,
    'pm2-instances': '2',
    'stabilization-window': '1s',
    interval: '100ms',
  };
}

async function deployRelease(h: DeployHost, mode: Mode, n: number) {
  const run = await runActionBundle('action-deploy', {
    ...inputs(h, mode),
    'install-command': '',
    artifact: sampleArtifact(h, { sha: sha(n) }),
    sha: sha(n),
  });
  if (run.exitCode !== 0) throw new Error(`bench setup: deploy ${n} failed: ${run.errors.join('; ')}`);
  return run;
}

const progress = (line: string) => console.error(`… ${line}`);

type Measured = LoadResult & Outage & { ms: number };

async function underLoad(url: string, procedure: () => Promise<unknown>): Promise<Measured> {
  const load = startLoad(url);
  const outage = startOutageProbe(url.replace('/api/ping', '/health'));
  await new Promise((r) => setTimeout(r, 500));
  const started = performance.now();
  await procedure();
  const ms = Math.round(performance.now() - started);
  await new Promise((r) => setTimeout(r, TAIL_MS));
  return { ...(await load.stop()), ...(await outage.stop()), ms };
}

/** The median run (by failed requests) of REPEAT runs of one measurement. */
async function median(measure: () => Promise<Measured>): Promise<Measured & { all: number[] }> {
  const runs: Measured[] = [];
  for (let i = 0; i < REPEAT; i++) runs.push(await measure());
  const sorted = [...runs].sort((a, b) => a.failed - b.failed);
  return { ...(sorted[Math.floor(sorted.length / 2)] as Measured), all: runs.map((r) => r.failed) };
}

/** The runbook's layout beside ours on the same host: <www>/bunty-legacy and -previous, under pm2. */
async function runbookApp(h: DeployHost, mode: Mode) {
  const port = await freePort();
  const www = `${h.droplet.hostRoot}/var/www`;
  const app = `${www}/bunty-legacy-${mode}`;
  for (const [dir, n] of [
    [app, 101],
    [`${app}-previous`, 100],
  ] as const) {
    const real = h.droplet.realPath(dir);
    mkdirSync(real, { recursive: true });
    const artifact = sampleArtifact(h, { sha: sha(n) });
    for (const file of ['server.cjs', 'sample-app.json'])
      copyFileSync(join(artifact, file), join(real, file));
    writeFileSync(join(real, '.env'), `PORT=${port}\n`);
  }
  const session = await openHostSession(h);
  const name = `bunty-legacy-${mode}`;
  const cluster = mode === 'cluster' ? ['-i', '2'] : [];
  await session.run(
    'start',
    sh`cd -- ${app} && pm2 start ${`${app}/server.cjs`} --name ${name} --kill-timeout 5000 ${cluster}`,
  );
  const url = `http://127.0.0.1:${port}/api/ping`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(url)
        .then((r) => r.ok)
        .catch(() => false)
    )
      break;
    await new Promise((r) => setTimeout(r, 50));
  }
  session.close();
  // The runbook's rollback, typed as the runbook types it, through a fresh SSH connection as a person would.
  const procedure = async () => {
    const s = await openHostSession(h);
    await s.run(
      'runbook rollback',
      sh`mv -T -- ${app} ${`${app}-broken`} && mv -T -- ${`${app}-previous`} ${app} && pm2 restart ${name}`,
    );
    // The broken one becomes the previous one, so the next measurement switches back again.
    await s.run('reset', sh`mv -T -- ${`${app}-broken`} ${`${app}-previous`}`);
    s.close();
  };
  return { url, procedure, healthUrl: `http://127.0.0.1:${port}/health` };
}

/** Spawns the rollback bundle and timestamps: start, first answer at `url` from another release than before, a passing probe in its log, exit. */
async function timeRollback(
  given: Record<string, string>,
  url: string,
  /** Which passing probe in the log is the verification (traffic: nginx passes a gate on the slot's port first). */
  passes = 1,
): Promise<{ first: number; verified: number; exit: number }> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  delete env.NODE_OPTIONS;
  for (const [name, value] of Object.entries({ ...given, 'stabilization-window': '0s' }))
    env[`INPUT_${name.toUpperCase()}`] = value;
  const started = performance.now();
  const child = spawn(runnerNode, [join(repoRoot, 'action-rollback', 'dist', 'index.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let verified = 0;
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (!verified && (out.match(/attempt \d+: .* pass \(release/g) ?? []).length >= passes)
      verified = performance.now() - started;
  });
  const before = await fetch(url).then((r) => r.json() as Promise<{ releaseId: string }>);
  let first = 0;
  const exited = new Promise<number>((resolve) =>
    child.on('close', () => resolve(performance.now() - started)),
  );
  let exitAt = 0;
  void exited.then((t) => (exitAt = t));
  const giveUp = performance.now() + 30_000;
  while (!first && !exitAt && performance.now() < giveUp) {
    const now = await servedOnNewConnection(url);
    if (now && now.releaseId !== before.releaseId) first = performance.now() - started;
    await new Promise((r) => setTimeout(r, 10));
  }
  const exit = await exited;
  return { first: Math.round(first), verified: Math.round(verified), exit: Math.round(exit) };
}

/**
 * The release that answers at `url`, asked on a connection of its own: a pooled keep-alive
 * connection would keep asking whatever nginx worker or process it was opened to.
 */
function servedOnNewConnection(url: string): Promise<{ releaseId: string } | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as { releaseId: string });
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

async function timeRunbookRollback(procedure: () => Promise<void>, url: string): Promise<number> {
  const before = await fetch(url).then((r) => r.json() as Promise<{ releaseId: string }>);
  const started = performance.now();
  let first = 0;
  const done = procedure();
  const giveUp = performance.now() + 30_000;
  while (!first && performance.now() < giveUp) {
    const now = await servedOnNewConnection(url);
    if (now && now.releaseId !== before.releaseId) first = performance.now() - started;
    else await new Promise((r) => setTimeout(r, 10));
  }
  await done;
  return Math.round(first);
}

const rows: string[][] = [];
const times: string[][] = [];
// BENCH_ONLY=nginx: only the traffic: nginx section (it measures its own runbook baseline).
for (const mode of (process.env.BENCH_ONLY === 'nginx' ? [] : ['fork', 'cluster']) as Mode[]) {
  const h = await startDeployHost();
  try {
    progress(`${mode}: first deploy`);
    await deployRelease(h, mode, 1);
    const url = `http://127.0.0.1:${h.port}/api/ping`;
    let n = 1;
    progress(`${mode}: deploy under load ×${REPEAT}`);
    const ourDeploy = await median(() => underLoad(url, () => deployRelease(h, mode, ++n)));
    progress(`${mode}: rollback under load ×${REPEAT}`);
    const ourRollback = await median(async () => {
      await deployRelease(h, mode, ++n);
      return underLoad(url, async () => {
        const run = await runActionBundle('action-rollback', inputs(h, mode));
        if (run.exitCode !== 0) throw new Error(`rollback failed: ${run.errors.join('; ')}`);
      });
    });
    progress(`${mode}: the runbook's procedure under load ×${REPEAT}`);
    const runbook = await runbookApp(h, mode);
    const theirs = await median(() => underLoad(runbook.url, runbook.procedure));
    const row = (what: string, r: Measured & { all: number[] }) => [
      mode,
      what,
      String(r.requests),
      String(r.failed),
      `[${r.all.join(', ')}]`,
      `${r.non2xx} non-2xx, ${r.errors} errors`,
      `${r.outageMs} ms (${r.failedProbes}/${r.probes} probes)`,
      `${r.ms} ms`,
    ];
    rows.push(
      row('deploy (ours)', ourDeploy),
      row('rollback (ours)', ourRollback),
      row('runbook mv+mv+pm2 restart', theirs),
    );

    progress(`${mode}: rollback timing`);
    await deployRelease(h, mode, ++n);
    progress(`${mode}: rollback timing: ours`);
    const ours = await timeRollback(inputs(h, mode), `http://127.0.0.1:${h.port}/health`);
    progress(`${mode}: rollback timing: the runbook's`);
    const theirsFirst = await timeRunbookRollback(runbook.procedure, runbook.healthUrl);
    times.push([
      mode,
      `${ours.first} ms`,
      `${ours.verified} ms`,
      `${ours.exit} ms`,
      `${theirsFirst} ms (unverified)`,
    ]);
  } finally {
    await h.droplet.stop();
  }
}

// traffic: nginx, fork mode: the same load through a real nginx in front of two slots.
const slotted = await trafficNginx();

const table = (header: string[], body: string[][]) => {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
};
console.log('Failed requests under constant load (50 keep-alive connections, 1000 req/s, loopback)\n');
console.log(
  table(
    [
      'mode',
      'procedure',
      'requests',
      'failed (median)',
      `failed, all ${REPEAT} runs`,
      'of which',
      'outage (fresh-connection probe)',
      'procedure time',
    ],
    rows,
  ),
);
console.log(
  '\nRollback time, trigger → first answer from the target release → verified healthy (SSH connect included)\n',
);
console.log(
  table(['mode', 'ours: first answer', 'ours: verified', 'ours: exit', 'runbook: first answer'], times),
);
console.log(
  `\ntraffic: nginx, fork mode (${cpus().length} cores): failed requests through nginx, 50 keep-alive connections, 1000 req/s\n`,
);
console.log(
  table(
    ['procedure', 'requests', 'failed (median)', `failed, all ${REPEAT} runs`, 'of which', 'procedure time'],
    slotted.rows,
  ),
);
console.log(
  `\nRollback through nginx, trigger → first answer from the previous release (median of ${TIMING_TRIALS}, each alternated with the runbook's): ${slotted.first} ms, verified ${slotted.verified} ms, exit ${slotted.exit} ms; the runbook's mv+mv+pm2 restart on the same host: ${slotted.runbookFirst} ms (unverified)\n  every trial, ours/runbook's first answer in ms: ${slotted.allTrials}`,
);
console.log(
  `  ratio first answer ${(slotted.first / slotted.runbookFirst).toFixed(2)} (goal ≤ 0.5), verified ${(slotted.verified / slotted.runbookFirst).toFixed(2)} (goal ≤ 1.0)`,
);
console.log(`  memory of the two slots side by side: ${slotted.memory}`);
console.log(
  '\nGoals: traffic: nginx 0 failed for deploy, rollback and ops restart (every run); cluster 0 failed for deploy and rollback; fork no worse than the runbook; first answer ≤ 1500 ms; verified ≤ 3000 ms.',
);
console.log(
  '\nOlder goals: cluster 0 failed for deploy and rollback; fork no worse than the runbook; first answer ≤ 1500 ms; verified ≤ 3000 ms.',
);

/** Deploy, rollback and ops restart under load through nginx with `traffic: nginx`; then a timed rollback. */
async function trafficNginx() {
  const h = await startDeployHost();
  const nginx = await startHostNginx(h);
  try {
    const given = {
      ...inputs(h, 'fork'),
      'health-url': `${nginx.url}/health`,
      traffic: 'nginx',
      'slot-ports': `${await slotPortFree()},${await slotPortFree()}`,
      'nginx-upstream-file': `${h.droplet.hostRoot}/etc/nginx-sandbox/sites/bunty-upstream.conf`,
      'nginx-test-command': nginx.testCommand,
      'nginx-reload-command': nginx.reloadCommand,
    };
    progress('nginx: first deploy (pm2), traffic-setup, adopt');
    await deployRelease(h, 'fork', 1);
    // action-ops takes what acts on a running app: not how to start it (app-script, pm2 mode).
    const declared = ACTION_SPECS['action-ops'].inputs as Record<string, unknown>;
    const opsInputs = Object.fromEntries(
      Object.entries(given).filter(([name]) => name in declared && name !== 'app-script'),
    );
    const setup = await runActionBundle('action-ops', {
      ...opsInputs,
      operation: 'traffic-setup',
      'nginx-site': nginx.site,
    });
    if (setup.exitCode !== 0) throw new Error(`traffic-setup failed: ${setup.errors.join('; ')}`);
    let n = 1;
    const deploy = async () => {
      const run = await runActionBundle('action-deploy', {
        ...given,
        'install-command': '',
        artifact: sampleArtifact(h, { sha: sha(++n) }),
        sha: sha(n),
      });
      if (run.exitCode !== 0) throw new Error(`deploy failed: ${run.errors.join('; ')}`);
    };
    await deploy();
    const url = `${nginx.url}/api/ping`;
    progress(`nginx: deploy under load ×${REPEAT}`);
    const deploys = await median(() => underLoad(url, deploy));
    progress(`nginx: rollback under load ×${REPEAT}`);
    const rollbacks = await median(async () => {
      await deploy();
      return underLoad(url, async () => {
        const run = await runActionBundle('action-rollback', given);
        if (run.exitCode !== 0) throw new Error(`rollback failed: ${run.errors.join('; ')}`);
      });
    });
    progress(`nginx: ops restart under load ×${REPEAT}`);
    const restarts = await median(() =>
      underLoad(url, async () => {
        const run = await runActionBundle('action-ops', { ...opsInputs, operation: 'restart' });
        if (run.exitCode !== 0) throw new Error(`restart failed: ${run.errors.join('; ')}`);
      }),
    );
    // Rollback timing: ours and the runbook's by-hand rollback on the same host, alternated, so that
    // both meet the same machine; the median of each (one trial is within this machine's noise).
    progress(`nginx: rollback timing, ours and the runbook's alternated ×${TIMING_TRIALS}`);
    const runbook = await runbookApp(h, 'fork');
    const trials: { first: number; verified: number; exit: number; runbookFirst: number }[] = [];
    let memory = '';
    for (let trial = 0; trial < TIMING_TRIALS; trial++) {
      await deploy();
      await deploy();
      if (!memory) memory = await slotsMemory(h);
      const ours = await timeRollback(given, `${nginx.url}/health`, 2);
      const runbookFirst = await timeRunbookRollback(runbook.procedure, runbook.healthUrl);
      trials.push({ ...ours, runbookFirst });
    }
    const mid = (key: keyof (typeof trials)[number]) => medianOf(trials.map((t) => t[key]));
    const timed = { first: mid('first'), verified: mid('verified'), exit: mid('exit') };
    const runbookFirst = mid('runbookFirst');
    const allTrials = trials.map((t) => `${t.first}/${t.runbookFirst}`).join(', ');
    const row = (what: string, r: Measured & { all: number[] }) => [
      what,
      String(r.requests),
      String(r.failed),
      `[${r.all.join(', ')}]`,
      `${r.non2xx} non-2xx, ${r.errors} errors`,
      `${r.ms} ms`,
    ];
    return {
      rows: [row('deploy', deploys), row('rollback', rollbacks), row('ops restart', restarts)],
      ...timed,
      runbookFirst,
      allTrials,
      memory,
    };
  } finally {
    await nginx.stop();
    await h.droplet.stop();
  }
}

/** Resident memory of each slot's process, as pm2 reads it. */
async function slotsMemory(h: DeployHost): Promise<string> {
  const list = JSON.parse(await h.droplet.pm2.command(['jlist'])) as {
    name: string;
    monit?: { memory?: number };
  }[];
  const slots = list.filter((p) => /-(blue|green)$/.test(p.name));
  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
  const total = slots.reduce((sum, p) => sum + (p.monit?.memory ?? 0), 0);
  return `${slots.map((p) => `${p.name} ${mb(p.monit?.memory ?? 0)}`).join(', ')}; together ${mb(total)}`;
}
