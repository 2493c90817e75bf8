/**
 * The one entry of action-ops and `runbook ops <operation>`: the operation looked up in the table, the
 * `redact` values masked, the confirm rule applied to a destructive one, then the operation run.
 */
import type { Inputs } from '../config/inputs.js';
import { parseChoice } from '../config/parse.js';
import { ConfigurationError } from '../errors.js';
import type { ModeResult, RunContext } from '../result.js';
import { parseAppName } from '../releases/layout.js';
import type { OpsDeps } from './operation.js';
import { checkConfirmed } from './ops.js';
import { OPERATIONS, needsConfirm, operationNamed } from './operations/table.js';

export { OPERATIONS } from './operations/table.js';

export async function runOps(inputs: Inputs, context: RunContext, deps: OpsDeps): Promise<ModeResult> {
  const name = parseChoice('operation', inputs.string('operation', { required: true }), OPERATIONS);
  const operation = operationNamed(name);
  if (!operation) throw new ConfigurationError('operation', `${name} is not an operation.`);
  const secrets = inputs
    .raw('redact')
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s.length >= 4);
  secrets.forEach((s) => inputs.mask(s));
  const dryRun = inputs.boolean('dry-run', false);
  if (needsConfirm(operation, inputs) && !dryRun) {
    const app = inputs.string('app-name');
    const expected = inputs.string('confirm-expected') ?? (app ? parseAppName('app-name', app) : undefined);
    if (!expected)
      throw new ConfigurationError('confirm-expected', `is required for ${name} when app-name is not given.`);
    checkConfirmed(
      typeof operation.destructive === 'object' ? operation.destructive.as : name,
      inputs.string('confirm'),
      expected,
    );
  }
  return operation.run(inputs, context, deps, { name, dryRun, secrets, started: new Date() });
}
