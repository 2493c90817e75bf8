/** The action folders of this repository, found the same way by build, docs and checks. */
import { readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export function actionDirs(): string[] {
  return readdirSync(repoRoot)
    .filter((name) => name.startsWith('action-') && existsSync(join(repoRoot, name, 'action.yml')))
    .sort();
}
