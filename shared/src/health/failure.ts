/** The failure a deploy verification ends with: what failed, the evidence, what to do. */
import { OperationError } from '../errors.js';
import type { HealthReport } from './verify.js';

export function healthFailure(report: HealthReport): OperationError {
  const last = report.lastFailure;
  const evidence = [
    last?.statusCode !== undefined ? `Last status: ${last.statusCode}.` : '',
    last?.body ? `Body: ${last.body}` : '',
  ]
    .filter((part) => part !== '')
    .join(' ');
  return new OperationError(
    `${report.failure ?? 'Not healthy.'}${evidence ? ` ${evidence}` : ''}`,
    'read the app log (`pm2 logs <app> --lines 200`) and `pm2 status` (a growing restart count means a crash loop); ' +
      'if this follows a deploy, roll back to the previous release (action-rollback) and verify again.',
  );
}
