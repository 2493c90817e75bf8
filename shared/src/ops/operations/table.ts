/**
 * Every operation of action-ops, in one table: the `operation` input's choices, the confirm rule,
 * the action's docs, the incident workflow's gate and the CLI help all come from here (tests hold
 * them equal).
 */
import type { Inputs } from '../../config/inputs.js';
import type { Operation } from '../operation.js';
import { certificatesOperation } from './certificates.js';
import { flushCacheOperation } from './flush-cache.js';
import { hostOperations } from './host-operations.js';
import { logrotateOperation } from './logrotate.js';
import { logsOperation } from './logs.js';
import { maintenanceOperations } from './maintenance.js';
import { trafficSetupOperation } from './traffic.js';

export const OPERATION_TABLE: readonly Operation[] = [
  ...hostOperations,
  flushCacheOperation,
  logsOperation,
  ...maintenanceOperations,
  trafficSetupOperation,
  logrotateOperation,
  certificatesOperation,
];

export const OPERATIONS: readonly string[] = OPERATION_TABLE.map((op) => op.name);

export function operationNamed(name: string): Operation | undefined {
  return OPERATION_TABLE.find((op) => op.name === name);
}

/** Whether this call of the operation must be confirmed. */
export function needsConfirm(op: Operation, inputs: Inputs): boolean {
  return typeof op.destructive === 'boolean' ? op.destructive : inputs.boolean(op.destructive.input, false);
}

/** The operations always destructive, by name. */
export function destructiveNames(): string[] {
  return OPERATION_TABLE.filter((op) => op.destructive === true).map((op) => op.name);
}

/** The `operation` input's description in action.yml. */
export function describeOperations(): string {
  return `One of: ${OPERATION_TABLE.map((op) => `\`${op.name}\` (${op.summary})`).join('; ')}.`;
}

/** The `confirm` input's description in action.yml. */
export function describeConfirm(): string {
  const sometimes = OPERATION_TABLE.flatMap((op) =>
    typeof op.destructive === 'object' ? [`\`${op.name}\` with \`${op.destructive.input}\``] : [],
  );
  const names = [...destructiveNames().map((n) => `\`${n}\``), ...sometimes].join(', ');
  return `Destructive operations (${names}) run only when this equals \`confirm-expected\`.`;
}
