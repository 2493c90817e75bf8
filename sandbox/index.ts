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
