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
import { checkConfirmed, parseSettings } from './ops.js';
import { recordRun, type RecordSpec } from '../audit/record.js';
import { OPERATIONS, needsConfirm, operationNamed } from './operations/table.js';

export { OPERATIONS } from './operations/table.js';

/** Every mutating operation of the table leaves an audit line; its start and end are told (incident). */
const OPS_RECORD: RecordSpec = {
  operation: (inputs) => `ops ${inputs.raw('operation')}`,
  mutates: (inputs) => {
    const op = operationNamed(inputs.raw('operation'));
    if (!op || inputs.boolean('dry-run', false)) return false;
    return typeof op.mutates === 'boolean' ? op.mutates : inputs.boolean(op.mutates.input, false);
  },
  where: { hosts: true },
  // set-env's `settings` hold values: only their names are recorded (see settingNames).
  auditInputs: ['operation'],
  announceStart: true,
  facts: (_result, inputs) => {
    // The inputs that say what this operation did; the others keep their defaults and say nothing.
    const own: Record<string, string> = {
      certificates: 'renew',
      'flush-cache': 'redis-db',
      logrotate: 'logrotate-set',
    };
    const input = own[inputs.raw('operation')];
    if (input) return { inputs: { [input]: inputs.raw(input) } };
    if (inputs.raw('operation') !== 'set-env') return {};
    try {
      return {
        inputs: {
          settings: parseSettings('settings', inputs.raw('settings'), true)
            .map((s) => s.key)
            .join(','),
        },
      };
    } catch {
      return {};
    }
  },
};

export function runOps(inputs: Inputs, context: RunContext, deps: OpsDeps): Promise<ModeResult> {
  return recordRun(inputs, context, OPS_RECORD, deps, (recorded, log) =>
    opsUnrecorded(recorded, context, { ...deps, log }),
  );
}

async function opsUnrecorded(inputs: Inputs, context: RunContext, deps: OpsDeps): Promise<ModeResult> {
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
