/** Build outputs of the sample app for deploy tests: a directory holding one release. */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SampleMode } from './droplet.js';

const SAMPLE_APP = join(dirname(fileURLToPath(import.meta.url)), 'app', 'server.cjs');

export interface SampleRelease {
  /** The sha the release reports as its releaseId (what expected-version checks). */
  sha: string;
  /** Serve another id than the sha: the "wrong version" deploy. */
  servesVersion?: string;
  mode?: SampleMode;
  crashAfterMs?: number;
}

export function makeSampleRelease(dir: string, release: SampleRelease): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(SAMPLE_APP, join(dir, 'server.cjs'));
  writeFileSync(
    join(dir, 'sample-app.json'),
    // No mode unless asked: then the host's environment (shared/.env SAMPLE_MODE) decides.
    JSON.stringify({
      releaseId: release.servesVersion ?? release.sha,
      ...(release.mode ? { mode: release.mode } : {}),
      ...(release.crashAfterMs ? { crashAfterMs: release.crashAfterMs } : {}),
    }),
  );
  return dir;
}
