/**
 * The reusable workflows, this repository's CI and the example callers, held to the contracts they
 * use: actionlint clean; every `with:` an input the action (or called workflow) declares, every
 * required one given; every `steps.<id>.outputs.<name>` / `needs.<job>.outputs.<name>` declared; no
 * `${{ }}` inside a script; every third-party `uses:` pinned by commit sha; every `$/` path an action
 * folder here; every job with least-privilege permissions and a timeout.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { actionDirs, repoRoot } from '../../scripts/actions.js';
import {
  forActionlint,
  workflowFiles,
  type Job,
  type Step,
  type Workflow,
  type WorkflowFile,
} from '../../scripts/workflows.js';

interface ActionYaml {
  inputs?: Record<string, { required?: boolean; default?: unknown }>;
  outputs?: Record<string, unknown>;
}

const files = workflowFiles();
const ours = (name: string) => files.find((f) => f.path === `.github/workflows/${name}`) as WorkflowFile;
const action = (dir: string) => parse(readFileSync(join(repoRoot, dir, 'action.yml'), 'utf8')) as ActionYaml;

/** `$/action-x`, `./action-x` or `<owner>/runbook-actions/action-x@<ref>` → `action-x`. */
function localAction(uses: string): string | undefined {
  const m = /^(?:\$\/|\.\/|[\w.-]+\/runbook-actions\/)(action-[\w-]+)(?:@.*)?$/.exec(uses);
  return m?.[1];
}

/** A reusable workflow of this repository, however it is called → its file name. */
function localWorkflow(uses: string): string | undefined {
  const m = /^(?:\$\/|\.\/|[\w.-]+\/runbook-actions\/)\.github\/workflows\/([\w.-]+\.ya?ml)(?:@.*)?$/.exec(
    uses,
  );
  return m?.[1];
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

const references = (text: string, kind: 'steps' | 'needs' | 'jobs') =>
  [...text.matchAll(new RegExp(`\\b${kind}\\.([\\w-]+)\\.outputs\\.([\\w-]+)`, 'g'))].map((m) => ({
    id: m[1] as string,
    name: m[2] as string,
  }));

const jobsOf = (file: WorkflowFile) => Object.entries(file.doc.jobs);
const stepsOf = (job: Job): Step[] => job.steps ?? [];

function withProblems(files: WorkflowFile[]): string[] {
  const problems: string[] = [];
  const check = (
    where: string,
    given: Record<string, unknown>,
    declared: Record<string, { required?: boolean; default?: unknown }>,
  ) => {
    for (const name of Object.keys(given))
      if (!(name in declared)) problems.push(`${where}: with.${name} is not an input`);
    for (const [name, input] of Object.entries(declared))
      if (input.required && input.default === undefined && !(name in given))
        problems.push(`${where}: required input ${name} not given`);
  };
  for (const file of files)
    for (const [jobId, job] of jobsOf(file)) {
      const called = job.uses ? localWorkflow(job.uses) : undefined;
      if (called) {
        const target = ours(called).doc.on?.workflow_call ?? {};
        check(`${file.path} ${jobId}`, job.with ?? {}, target.inputs ?? {});
        if (job.secrets !== 'inherit')
          for (const name of Object.keys(job.secrets ?? {}))
            if (!(name in (target.secrets ?? {})))
              problems.push(`${file.path} ${jobId}: secret ${name} not declared`);
      }
      for (const step of stepsOf(job)) {
        const dir = step.uses ? localAction(step.uses) : undefined;
        if (dir)
          check(
            `${file.path} ${jobId} ${step.id ?? step.name ?? dir}`,
            step.with ?? {},
            action(dir).inputs ?? {},
          );
      }
    }
  return problems;
}

function expandedInScripts(file: WorkflowFile): string[] {
  const problems: string[] = [];
  for (const [jobId, job] of jobsOf(file))
    for (const step of stepsOf(job)) {
      const scripts = [
        step.run,
        step.uses?.startsWith('actions/github-script@') ? step.with?.script : undefined,
      ];
      for (const script of scripts)
        if (typeof script === 'string' && script.includes('${{'))
          problems.push(
            `${file.path} ${jobId} ${step.id ?? step.name ?? ''}: ${script.split('\n').find((l) => l.includes('${{'))}`,
          );
    }
  return problems;
}

function unpinned(file: WorkflowFile): string[] {
  const problems: string[] = [];
  for (const line of file.text.split('\n')) {
    const m = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
    if (!m) continue;
    const [, uses = '', rest = ''] = m;
    if (uses.startsWith('$/') || uses.startsWith('./')) continue;
    if (!/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40}$/.test(uses) || !/#\s*\S+/.test(rest))
      problems.push(`${file.path}: ${line.trim()}`);
  }
  return problems;
}

const synthetic = (text: string): WorkflowFile => ({ path: 'bad.yml', text, doc: parse(text) as Workflow });

describe('workflows', () => {
  it('finds the three reusable workflows, CI and the three example callers', () => {
    expect(files.map((f) => f.path).sort()).toEqual(
      [
        '.github/workflows/ci.yml',
        '.github/workflows/deploy.yml',
        '.github/workflows/incident.yml',
        '.github/workflows/maintenance.yml',
        'examples/bunty/.github/workflows/deploy.yml',
        'examples/bunty/.github/workflows/incident.yml',
        'examples/bunty/.github/workflows/maintenance.yml',
      ].sort(),
    );
    for (const name of ['deploy.yml', 'maintenance.yml', 'incident.yml'])
      expect(ours(name).doc.on?.workflow_call).toBeDefined();
  });

  // actionlint runs as `npm run lint` runs it: its CommonJS build loads chalk (ESM), which jest's
  // module loader cannot, so the script runs in its own Node process.
  const actionlint = (...paths: string[]) =>
    spawnSync(join(repoRoot, 'node_modules', '.bin', 'tsx'), ['scripts/actionlint.ts', ...paths], {
      cwd: repoRoot,
      encoding: 'utf8',
    });

  it('actionlint finds nothing in any of them', () => {
    const run = actionlint();
    expect(run.stdout).toContain(`actionlint: ${files.length} workflow files clean`);
    expect(run.status).toBe(0);
  }, 60_000);

  it('actionlint fails a workflow that reads an input it does not declare, even through `$/`', () => {
    const dir = mkdtempSync(join(tmpdir(), 'workflow-'));
    try {
      const bad = join(dir, 'bad.yml');
      writeFileSync(
        bad,
        ours('deploy.yml').text.replace('ref: ${{ inputs.ref }}', 'ref: ${{ inputs.reff }}'),
      );
      const run = actionlint(bad);
      expect(run.status).toBe(1);
      expect(run.stdout).toMatch(/property "reff" is not defined/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('actionlint still reads a `$/` step: only the prefix is rewritten, lines and columns kept', () => {
    const text = '      - uses: $/action-health\n        with:\n          url: $/x\n';
    expect(forActionlint(text)).toBe('      - uses: ./action-health\n        with:\n          url: $/x\n');
  });

  it('every `$/` path names an action folder of this repository', () => {
    const dirs = new Set(actionDirs());
    for (const file of files)
      for (const [, job] of jobsOf(file))
        for (const step of stepsOf(job)) {
          if (!step.uses?.startsWith('$/')) continue;
          const dir = step.uses.slice(2);
          expect({ file: file.path, uses: step.uses, exists: dirs.has(dir) }).toEqual({
            file: file.path,
            uses: step.uses,
            exists: true,
          });
        }
  });

  it('every `with:` names a declared input and gives every required one (actions and called workflows)', () => {
    expect(withProblems(files)).toEqual([]);
  });

  it('the `with:` check catches an unknown input and a missing required one', () => {
    const bad = synthetic(
      'jobs:\n  a:\n    steps:\n      - uses: $/action-health\n        with:\n          urll: http://x\n',
    );
    expect(withProblems([bad])).toEqual([
      'bad.yml a action-health: with.urll is not an input',
      'bad.yml a action-health: required input url not given',
    ]);
  });

  it('every action input a real app may need is a workflow input wherever the step takes it, or a documented fixed choice', () => {
    // What an app that was never written for this suite needs to set (its entry, its install, its
    // health body, its readiness, how to prove it runs), by the workflow input that carries it.
    const appNeeds: Record<string, string> = {
      'app-script': 'app-script',
      'install-command': 'host-install-command',
      'linked-files': 'linked-files',
      'linked-dirs': 'linked-dirs',
      'pm2-exec-mode': 'pm2-exec-mode',
      'pm2-instances': 'pm2-instances',
      'start-timeout': 'start-timeout',
      'expected-status': 'expected-status',
      'expect-json': 'expect-json',
      'version-check': 'version-check',
      'smoke-requests': 'smoke-requests',
      grace: 'grace',
      'max-file-size': 'migration-max-file-size',
    };
    // Steps that leave one of them at its default on purpose, and why.
    const fixed: Record<string, string> = {
      'maintenance.yml action-ops start-timeout':
        'maintenance runs certificates and logrotate only, which never start the app',
      'maintenance.yml action-ops expected-status': 'certificates and logrotate never run the health gate',
      'maintenance.yml action-ops expect-json': 'certificates and logrotate never run the health gate',
      'maintenance.yml action-db-migrate max-file-size': 'mode: maintenance reads no migration files',
      'maintenance.yml action-rollback max-file-size':
        'the staging rollback drill leaves rollback-migrations off: it reads no migration file',
      'maintenance.yml action-rotate-secret grace': 'mode: audit reads ages only; it rotates nothing',
      'maintenance.yml action-rotate-secret start-timeout': 'mode: audit restarts nothing',
      'maintenance.yml action-rotate-secret expected-status': 'mode: audit runs no health gate',
      'maintenance.yml action-rotate-secret expect-json': 'mode: audit runs no health gate',
    };
    const problems: string[] = [];
    for (const name of ['deploy.yml', 'incident.yml', 'maintenance.yml']) {
      const file = ours(name);
      const declared = file.doc.on?.workflow_call?.inputs ?? {};
      for (const [, job] of jobsOf(file))
        for (const step of job.steps ?? []) {
          const dir = step.uses ? localAction(step.uses) : undefined;
          if (!dir) continue;
          for (const [input, carrier] of Object.entries(appNeeds)) {
            if (!(input in (action(dir).inputs ?? {}))) continue;
            const given = String(step.with?.[input] ?? '');
            if (given.includes(`inputs.${carrier} }}`) && carrier in declared) continue;
            if (given !== '' && !given.includes('inputs.')) continue; // a value the workflow fixes in plain sight
            if (fixed[`${name} ${dir} ${input}`]) continue;
            problems.push(
              `${name} ${dir}: ${input} is neither passed from inputs.${carrier} nor a documented fixed choice`,
            );
          }
        }
    }
    expect(problems).toEqual([]);
  });

  it('every steps.<id>.outputs.<name> names a declared output of that step', () => {
    const problems: string[] = [];
    for (const file of files)
      for (const [jobId, job] of jobsOf(file)) {
        const steps = new Map(
          stepsOf(job)
            .filter((s) => s.id)
            .map((s) => [s.id as string, s]),
        );
        for (const { id, name } of references(strings(job).join('\n'), 'steps')) {
          const step = steps.get(id);
          if (!step) {
            problems.push(`${file.path} ${jobId}: no step with id ${id}`);
            continue;
          }
          const dir = step.uses ? localAction(step.uses) : undefined;
          if (dir) {
            if (!(name in (action(dir).outputs ?? {})))
              problems.push(`${file.path} ${jobId}: ${dir} has no output ${name}`);
          } else if (step.run !== undefined) {
            // A script's outputs are what it writes to $GITHUB_OUTPUT.
            if (!new RegExp(`\\b${name}=`).test(step.run))
              problems.push(`${file.path} ${jobId}: step ${id} never writes ${name}`);
          }
        }
      }
    expect(problems).toEqual([]);
  });

  it('every needs.<job>.outputs.<name> and jobs.<job>.outputs.<name> is a declared job output', () => {
    const problems: string[] = [];
    for (const file of files) {
      const declared = (jobId: string) => Object.keys(file.doc.jobs[jobId]?.outputs ?? {});
      for (const [jobId, job] of jobsOf(file))
        for (const { id, name } of references(strings(job).join('\n'), 'needs')) {
          const needs = [job.needs ?? []].flat();
          if (!needs.includes(id)) problems.push(`${file.path} ${jobId}: needs.${id} but does not need it`);
          else if (!declared(id).includes(name))
            problems.push(`${file.path} ${jobId}: job ${id} has no output ${name}`);
        }
      for (const { id, name } of references(
        strings(file.doc.on?.workflow_call?.outputs ?? {}).join('\n'),
        'jobs',
      ))
        if (!declared(id).includes(name))
          problems.push(`${file.path}: workflow output from ${id}.${name}, not declared`);
    }
    expect(problems).toEqual([]);
  });

  it('no `${{ }}` is expanded inside a script (dispatch inputs are attacker-controlled text: they go through env)', () => {
    expect(files.flatMap(expandedInScripts)).toEqual([]);
  });

  it('the script check finds `${{ }}` in a run block and in a github-script', () => {
    const bad = synthetic(
      'jobs:\n  a:\n    steps:\n      - id: x\n        run: echo "${{ inputs.argument }}"\n      - uses: actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0\n        with:\n          script: core.info(\'${{ github.event.inputs.x }}\')\n',
    );
    expect(expandedInScripts(bad)).toHaveLength(2);
  });

  it('every third-party `uses:` is pinned by a full commit sha, its tag in a comment', () => {
    expect(files.flatMap(unpinned)).toEqual([]);
  });

  it('the pin check refuses a tag, a short sha and a sha without its tag comment', () => {
    const bad = synthetic(
      'jobs:\n  a:\n    steps:\n      - uses: actions/checkout@v5\n      - uses: actions/checkout@08c6903\n      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8\n      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n',
    );
    expect(unpinned(bad)).toHaveLength(3);
  });

  it('every job sets least-privilege permissions and a timeout (a called workflow has its own)', () => {
    const problems: string[] = [];
    for (const file of files) {
      if (file.doc.permissions === undefined) problems.push(`${file.path}: no workflow permissions`);
      for (const [jobId, job] of jobsOf(file)) {
        if (job.permissions === undefined) problems.push(`${file.path} ${jobId}: no permissions`);
        const granted = JSON.stringify(job.permissions ?? {});
        if (/write-all|"contents":"write"|"actions":"write"|"id-token":"write"/.test(granted))
          problems.push(`${file.path} ${jobId}: broad permissions ${granted}`);
        if (!job.uses && job['timeout-minutes'] === undefined)
          problems.push(`${file.path} ${jobId}: no timeout-minutes`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the deploy of one environment never runs twice at once and is never cancelled', () => {
    const release = ours('deploy.yml').doc.jobs.release as Job & {
      concurrency?: { group?: string; 'cancel-in-progress'?: boolean };
      environment?: { name?: string };
    };
    expect(release.concurrency?.group).toContain('${{ inputs.environment }}');
    expect(release.concurrency?.['cancel-in-progress']).toBe(false);
    expect(release.environment?.name).toBe('${{ inputs.environment }}');
  });

  it("every job in an environment keeps its protection without GitHub's automatic deployment of the run's commit", () => {
    const problems: string[] = [];
    for (const name of ['deploy.yml', 'incident.yml', 'maintenance.yml'])
      for (const [jobId, job] of Object.entries(ours(name).doc.jobs)) {
        const env = (job as { environment?: unknown }).environment;
        if (env === undefined) continue;
        if (typeof env !== 'object' || (env as { deployment?: unknown }).deployment !== false)
          problems.push(`${name} ${jobId}: environment without deployment: false`);
      }
    expect(problems).toEqual([]);
  });

  it("the incident form offers every operation incident.yml knows, and checks destructive ones' confirmation", () => {
    const example = files.find(
      (f) => f.path === 'examples/bunty/.github/workflows/incident.yml',
    ) as WorkflowFile;
    const offered =
      (example.doc.on?.workflow_dispatch?.inputs?.operation as { options?: string[] }).options ?? [];
    const plan = stepsOf(ours('incident.yml').doc.jobs.plan as Job)[0]?.run ?? '';
    const known = [...plan.matchAll(/^\s*(?:read_only|mutating|destructive)="([^"]*)"/gm)].flatMap((m) =>
      (m[1] as string).split(' '),
    );
    expect([...offered].sort()).toEqual([...known].sort());
    expect(offered).toHaveLength(16);
  });

  it("incident.yml's gate, run by bash: unknown and unconfirmed requests stop before the environment", () => {
    const script = stepsOf(ours('incident.yml').doc.jobs.plan as Job)[0]?.run ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'gate-'));
    const gate = (operation: string, confirm = '', argument = '') => {
      const output = join(dir, `out-${Math.random()}`);
      writeFileSync(output, '');
      const run = spawnSync('bash', ['-e', '-c', script], {
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          GITHUB_OUTPUT: output,
          OPERATION: operation,
          ARGUMENT: argument,
          CONFIRM: confirm,
          ENVIRONMENT: 'production',
        },
      });
      return { status: run.status, output: readFileSync(output, 'utf8').trim(), stdout: run.stdout };
    };
    try {
      expect(gate('diagnose')).toMatchObject({ status: 0, output: 'mutating=false' });
      expect(gate('restart')).toMatchObject({ status: 0, output: 'mutating=true' });
      expect(gate('rollback')).toMatchObject({ status: 1, output: '' });
      expect(gate('rollback').stdout).toMatch(/^::error title=confirm::rollback changes production/);
      expect(gate('rollback', 'staging')).toMatchObject({ status: 1, output: '' });
      expect(gate('rollback', 'production')).toMatchObject({ status: 0, output: 'mutating=true' });
      expect(gate('rollback-to', 'production')).toMatchObject({ status: 1, output: '' });
      expect(gate('rollback-to', 'production').stdout).toMatch(
        /^::error title=argument::rollback-to needs its argument/,
      );
      expect(gate('rollback-to', 'production', '20261130T075100Z-1a2b3c4')).toMatchObject({ status: 0 });
      expect(gate('certificates')).toMatchObject({ status: 0, output: 'mutating=false' });
      expect(gate('certificates', '', 'renew')).toMatchObject({ status: 1, output: '' });
      const marker = join(dir, 'injected');
      const hostile = gate(`diagnose $(touch ${marker}) "; touch ${marker}; "`, 'production');
      expect(hostile).toMatchObject({ status: 1, output: '' });
      expect(hostile.stdout).not.toContain(marker);
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the maintenance caller maps each cron line to its part of the schedule', () => {
    const example = files.find(
      (f) => f.path === 'examples/bunty/.github/workflows/maintenance.yml',
    ) as WorkflowFile;
    const crons = ((example.doc.on as { schedule?: { cron: string }[] }).schedule ?? []).map((s) => s.cron);
    expect(crons).toContain('0 2 * * *');
    const schedule = String(example.doc.jobs.maintenance?.with?.schedule);
    for (const cron of crons.filter((c) => c !== '0 2 * * *')) expect(schedule).toContain(`'${cron}'`);
    for (const part of ['daily', 'weekly', 'monthly', 'quarterly']) expect(schedule).toContain(`'${part}'`);
  });

  it('the example callers pin a commit of this repository that holds the workflows they call, as they are now', () => {
    for (const file of files.filter((f) => f.path.startsWith('examples/')))
      for (const [, job] of jobsOf(file)) {
        const sha = /@([0-9a-f]{40})$/.exec(job.uses ?? '')?.[1];
        expect(sha).toBeDefined();
        const called = localWorkflow(job.uses ?? '') as string;
        // The clone CI runs on has the history: the pinned commit must hold the called workflow.
        const held = spawnSync('git', ['cat-file', '-e', `${sha}:.github/workflows/${called}`], {
          cwd: repoRoot,
        });
        expect({ uses: job.uses, held: held.status === 0 }).toEqual({ uses: job.uses, held: true });
        // …as it is now: a caller pinned to an older interface would teach the wrong inputs. After a
        // workflow changes, commit it, then pin the examples to that commit.
        const pinned = spawnSync('git', ['show', `${sha}:.github/workflows/${called}`], {
          cwd: repoRoot,
          encoding: 'utf8',
        });
        expect({ uses: job.uses, current: pinned.stdout === ours(called).text }).toEqual({
          uses: job.uses,
          current: true,
        });
      }
    expect(existsSync(join(repoRoot, 'examples/bunty/.github/dependabot.yml'))).toBe(true);
    expect(existsSync(join(repoRoot, '.github/dependabot.yml'))).toBe(true);
  });
});
