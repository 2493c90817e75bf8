/**
 * The fleet at twenty hosts against one host, side by side in this one run, through the committed
 * bundles: deploy (max-parallel 5, canary 1), rollback, rotation and diagnose, each timed on 1 host
 * and on 20; the action's peak RSS at 20 hosts; SSH logins each host's sshd accepted per run.
 *
 * Goals (ratios 20 ÷ 1): deploy ≤ 4.5, rollback ≤ 3, rotation ≤ 5, diagnose ≤ 2; peak RSS at 20 hosts
 * ≤ 150 MB; SSH connections per host per run: 1. BENCH_HOSTS sets the fleet's size (default 20).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { runActionBundle, type ActionRun } from '../sandbox/index.js';
import {
  APP_NAME,
  hostInputs,
  runningAppInputs,
  sampleArtifact,
  sha,
  startDeployHosts,
  stopDeployHosts,
  type DeployHost,
} from '../sandbox/deploy-host.js';
import { watchPeak } from './lib/peak.js';

const COUNT = Number(process.env.BENCH_HOSTS ?? 20);
const BATCH = { 'max-parallel': '5', canary: '1' };
const say = (line: string) => console.log(line);

interface Measured {
  ms: number;
  /** Core-seconds the whole machine was busy (runner and every sandbox host share its cores). */
  busyS: number;
  peakMb: number;
  /** sshd logins per host during the run (the most any host saw). */
  loginsPerHost: number;
}

async function measure(
  action: string,
  hosts: DeployHost[],
  inputs: Record<string, string>,
): Promise<Measured> {
  const before = hosts.map((h) => h.droplet.sshd?.logins() ?? 0);
  let peak: () => number = () => 0;
  const busyBefore = machineBusySeconds();
  const started = performance.now();
  const run: ActionRun = await runActionBundle(action, inputs, {
    secrets: hosts.map((h) => h.droplet.sshd?.privateKey ?? ''),
    timeoutMs: 15 * 60_000,
    onSpawn: (child) => (peak = watchPeak(child)),
  });
  const ms = performance.now() - started;
  const busyS = machineBusySeconds() - busyBefore;
  if (run.exitCode !== 0)
    throw new Error(
      `${action} on ${hosts.length} host(s) failed: ${run.errors.join('\n')}\n${run.stdout.slice(-3000)}`,
    );
  const logins = hosts.map((h, i) => (h.droplet.sshd?.logins() ?? 0) - (before[i] ?? 0));
  return { ms, busyS, peakMb: peak(), loginsPerHost: Math.max(...logins) };
}

/**
 * The machine's busy time so far, from /proc/stat (user, nice, system, irq, softirq, steal; in
 * USER_HZ, 100 a second on Linux). It shows what a ratio cannot: when the sandbox's hosts share the
 * runner's cores, the hosts' own work (pm2's CLI, the app's start) adds up over twenty hosts.
 */
function machineBusySeconds(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

let n = 0;
const deploy = (hosts: DeployHost[]) => {
  const release = { sha: sha(++n) };
  return measure('action-deploy', hosts, {
    ...hostInputs(hosts),
    ...BATCH,
    'install-command': '',
    artifact: sampleArtifact(hosts[0] as DeployHost, release),
    sha: release.sha,
    'max-attempts': '60',
    'stabilization-window': '1s',
  });
};
const rollback = (hosts: DeployHost[]) =>
  measure('action-rollback', hosts, {
    ...hostInputs(hosts),
    ...BATCH,
    'max-attempts': '60',
    'stabilization-window': '1s',
  });
const rotate = (hosts: DeployHost[]) =>
  measure('action-rotate-secret', hosts, {
    ...runningAppInputs(hosts),
    ...BATCH,
    name: 'JWT_SECRET',
    'max-attempts': '60',
    'stabilization-window': '1s',
  });
const diagnose = (hosts: DeployHost[]) => {
  const base = runningAppInputs(hosts);
  return measure('action-diagnose', hosts, {
    hosts: base.hosts as string,
    'ssh-key': base['ssh-key'] as string,
    'known-hosts': base['known-hosts'] as string,
    'app-name': APP_NAME,
    'app-dir': (hosts[0] as DeployHost).appDir,
    'health-url': base['health-url'] as string,
    'disk-warn-percent': '100',
    timeout: '4s',
  });
};

say(`starting ${COUNT} sandbox hosts (sshd, pm2 and the sample app each)…`);
const startedAt = performance.now();
// One host more than the fleet: the 1-host runs go to it, so the fleet's hosts stay alike (a rotation
// refuses hosts that hold different values, as it should).
const all = await startDeployHosts(COUNT + 1);
const fleet = all.slice(0, COUNT);
const one = all.slice(COUNT);
say(`  ${COUNT + 1} hosts up in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
try {
  for (const h of all)
    appendFileSync(
      h.droplet.realPath(`${h.appDir}/shared/.env`),
      'JWT_SECRET=bench-old-secret-0123456789abcdef\n',
    );
  // Warm-up, not measured: every host gets a first release and a second (so a rollback has a target).
  say('warm-up: two deploys to every host…');
  for (const hosts of [one, fleet, one, fleet]) await deploy(hosts);

  const rows: { what: string; one: Measured; all: Measured; goal: number }[] = [];
  for (const [what, fn, goal] of [
    ['deploy', deploy, 4.5],
    ['rollback', rollback, 3],
    ['rotation', rotate, 5],
    ['diagnose', diagnose, 2],
  ] as const) {
    say(`${what}: 1 host, then ${COUNT}…`);
    const a = await fn(one);
    const b = await fn(fleet);
    rows.push({ what, one: a, all: b, goal });
    say(`  ${(a.ms / 1000).toFixed(1)} s, ${(b.ms / 1000).toFixed(1)} s: ${(b.ms / a.ms).toFixed(2)}×`);
  }

  say('');
  say(
    `| procedure | 1 host | ${COUNT} hosts | ratio | goal | peak RSS at ${COUNT} | SSH logins per host | machine busy, 1 → ${COUNT} hosts (${availableParallelism()} cores) |`,
  );
  say('|---|---|---|---|---|---|---|---|');
  let ok = true;
  for (const r of rows) {
    const ratio = r.all.ms / r.one.ms;
    const pass = ratio <= r.goal && r.all.peakMb <= 150 && r.all.loginsPerHost === 1;
    ok &&= pass;
    say(
      `| ${r.what} | ${(r.one.ms / 1000).toFixed(1)} s | ${(r.all.ms / 1000).toFixed(1)} s | ${ratio.toFixed(2)} | ≤ ${r.goal} | ${r.all.peakMb.toFixed(0)} MB (≤ 150) | ${r.all.loginsPerHost} (1) | ${r.one.busyS.toFixed(1)} → ${r.all.busyS.toFixed(1)} core-s | ${pass ? 'PASS' : 'FAIL'}`,
    );
  }
  say('');
  say(ok ? 'fleet: every goal met' : 'fleet: a goal was missed (see FAIL above)');
  process.exitCode = ok ? 0 : 1;
} finally {
  await stopDeployHosts(all);
}
