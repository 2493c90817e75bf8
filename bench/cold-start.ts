/**
 * Cold start of each action bundle: process start to exit on a missing required input, the path
 * every run takes before doing any work, against `node -e ''` measured in the same run, runs
 * interleaved so that machine noise falls on both sides alike. Prints medians and the ratio.
 * A figure, no longer a goal (the bundles use @actions/core and plain imports). Measured on the runner's Node 24 (what `runs.using: node24` runs) and, for
 * comparison with earlier figures, on this machine's own Node where that is another version.
 */
import { spawnSync } from 'node:child_process';
import { statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { actionDirs, repoRoot } from '../scripts/actions.js';
import { machineNode, runnerNode } from '../sandbox/runner-node.js';

const versionOf = (node: string) => spawnSync(node, ['--version']).stdout.toString().trim();
const runtimes = [runnerNode, machineNode]
  .filter((node): node is string => node !== undefined)
  .filter((node, i, all) => all.findIndex((other) => versionOf(other) === versionOf(node)) === i);

const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const WARMUP = 3;

const env: Record<string, string> = {};
for (const [key, value] of Object.entries(process.env)) {
  if (
    value !== undefined &&
    !key.startsWith('INPUT_') &&
    !key.startsWith('GITHUB_') &&
    key !== 'NODE_OPTIONS'
  )
    env[key] = value;
}

function timeOnce(node: string, args: string[]): number {
  const started = process.hrtime.bigint();
  spawnSync(node, args, { env, stdio: 'ignore' });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const subjects = [
  { name: "node -e ''", args: ['-e', ''] },
  ...actionDirs().map((action) => ({ name: action, args: [join(repoRoot, action, 'dist', 'index.js')] })),
];
for (const node of runtimes) {
  const samples = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const subject of subjects) {
      const ms = timeOnce(node, subject.args);
      if (i >= WARMUP) samples.get(subject.name)?.push(ms);
    }
  }

  const baseline = median(samples.get("node -e ''") ?? []);
  console.log(
    `cold start, median of ${RUNS} interleaved runs (node ${versionOf(node)}${node === runnerNode ? ', the runner’s' : ', this machine’s'}, ${process.arch})`,
  );
  console.log(
    `${'subject'.padEnd(22)} ${'median'.padStart(9)} ${'ratio'.padStart(6)}  ${'bundle'.padStart(9)}`,
  );
  for (const subject of subjects) {
    const ms = median(samples.get(subject.name) ?? []);
    const ratio = ms / baseline;
    const isAction = subject.name !== "node -e ''";
    const dist = isAction ? join(repoRoot, subject.name, 'dist') : '';
    const size = isAction
      ? readdirSync(dist)
          .filter((f) => f.endsWith('.js'))
          .reduce((sum, f) => sum + statSync(join(dist, f)).size, 0)
      : 0;
    console.log(
      `${subject.name.padEnd(22)} ${`${ms.toFixed(1)} ms`.padStart(9)} ${ratio.toFixed(2).padStart(6)}  ${isAction ? `${(size / 1024).toFixed(0)} KiB`.padStart(9) : ''.padStart(9)}`,
    );
  }
  console.log('');
}
