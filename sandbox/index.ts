export {
  Droplet,
  type AppOptions,
  type Behaviour,
  type SampleApp,
  type SampleMode,
  type DropletOptions,
} from './droplet.js';
export { isAlive, ProcessTracker } from './processes.js';
export { freePort, waitForPort } from './net.js';
export {
  runActionBundle,
  readActionYaml,
  type ActionRun,
  type Annotation,
  type RunOptions,
} from './action-runner.js';
export { findLeaks } from './leak-guard.js';
export { makeSampleRelease, type SampleRelease } from './release-artifact.js';
export { makeRealAppRelease, type RealAppRelease } from './real-app.js';
export { runnerNode } from './runner-node.js';
