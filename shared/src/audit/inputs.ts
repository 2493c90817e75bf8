/** Where the audit file is, read one way by every writer and reader of it. */
import type { Inputs } from '../config/inputs.js';
import { parseAppDir } from '../releases/layout.js';
import { auditPath } from './audit-log.js';

/** `audit-file`, else `<app-dir>/.runbook/audit.log`, else `.runbook/audit.log` in the SSH user's home. */
export function readAuditFile(inputs: Inputs): string {
  const appDir = inputs.string('app-dir');
  return (
    inputs.string('audit-file') ?? (appDir ? auditPath(parseAppDir('app-dir', appDir)) : '.runbook/audit.log')
  );
}
