/**
 * `tsx sandbox/preflight.ts`: every system package of system-packages.txt present — installed as
 * root, else the exact apt-get line and exit 1. .ci/run and the drill start with it.
 */
import { ensureSystemPackages, systemPackages } from './system.js';

try {
  const installed = ensureSystemPackages(undefined, (line) => console.log(line));
  console.log(
    installed.length
      ? `system packages: installed ${installed.join(' ')}`
      : `system packages: all ${systemPackages().length} present`,
  );
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
