/**
 * The operations table (shared/src/ops/operations/table.ts) is the one source of action-ops'
 * operations: the action's docs, the incident workflow's gate and confirm rule, and the CLI's help are
 * held equal to it here.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../../scripts/actions.js';
import {
  OPERATIONS,
  OPERATION_TABLE,
  describeConfirm,
  describeOperations,
  destructiveNames,
} from '../../shared/src/ops/operations/table.js';
import { ACTION_SPECS } from '../../cli/action-specs.js';

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const opsAction = parse(read('action-ops/action.yml')) as {
  inputs: Record<string, { description: string }>;
};
const incident = read('.github/workflows/incident.yml');
const words = (name: string) =>
  (new RegExp(`^\\s*${name}="([^"]*)"`, 'm').exec(incident)?.[1] ?? '').split(' ');

describe('the operations table', () => {
  it('names each operation once, each with a summary', () => {
    expect(new Set(OPERATIONS).size).toBe(OPERATIONS.length);
    for (const op of OPERATION_TABLE) expect(op.summary.length).toBeGreaterThan(10);
  });

  it("is what action-ops' action.yml says of `operation` and `confirm` (npm run docs writes them)", () => {
    expect(opsAction.inputs.operation?.description).toBe(describeOperations());
    expect(opsAction.inputs.confirm?.description).toBe(describeConfirm());
  });

  it("is what the CLI's help shows for `runbook ops <operation>`", () => {
    expect(ACTION_SPECS['action-ops'].inputs.operation.description).toBe(describeOperations());
  });

  it("agrees with the incident workflow's gate: every operation it sends to action-ops exists, destructive ones confirmed", () => {
    const routed = JSON.parse(
      /contains\(fromJSON\('(\[[^\]]*\])'\), inputs\.operation\)\s*\n\s*uses: \$\/action-ops/.exec(
        incident,
      )?.[1] ?? '[]',
    ) as string[];
    expect(routed.length).toBeGreaterThan(3);
    const destructive = words('destructive');
    const known = [...words('read_only'), ...words('mutating'), ...destructive];
    for (const name of routed) {
      expect(OPERATIONS).toContain(name);
      expect(known).toContain(name);
      // The workflow may be stricter than the action, never looser.
      if (destructiveNames().includes(name)) expect(destructive).toContain(name);
    }
  });
});
