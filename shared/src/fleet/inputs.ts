/** How a procedure that changes what serves spreads over the hosts: the canary, then batches. */
import type { Inputs } from '../config/inputs.js';
import type { BatchPlan } from './parallel.js';

export function readBatchPlan(inputs: Inputs): BatchPlan {
  return {
    maxParallel: inputs.integer('max-parallel', 1, { min: 1, max: 100 }),
    canary: inputs.integer('canary', 1, { min: 0, max: 100 }),
  };
}
