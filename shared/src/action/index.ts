/** Runner glue: the only part of shared/ that speaks the runner's protocol (through @actions/core). */
export { actionInputs } from './inputs.js';
export { actionLog } from './log.js';
export { reportResult, setOutputs, writeSummary, type OutputValue } from './results.js';
export { runAction } from './run.js';
