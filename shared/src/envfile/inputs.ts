/** Where the app's env file is on the hosts, read one way for rotation, ops, diagnose and status. */
import type { Inputs } from '../config/inputs.js';
import { appPaths, parseAppDir } from '../releases/layout.js';

/** The env file: `env-file`, or the layout's place for it under app-dir. */
export function readEnvFile(
  inputs: Inputs,
  appDir: string,
): { envFile: string; workDir: string; allowOutsideAppDir: boolean } {
  const layout = inputs.choice('layout', ['releases', 'legacy'] as const, 'releases');
  const paths = appPaths(appDir);
  const given = inputs.string('env-file');
  return {
    envFile: given
      ? parseAppDir('env-file', given)
      : layout === 'releases'
        ? `${paths.shared}/.env`
        : `${paths.root}/.env`,
    workDir: layout === 'releases' ? paths.current : paths.root,
    allowOutsideAppDir: inputs.boolean('allow-env-file-outside-app-dir', false),
  };
}

/** The env file where app-dir may be absent (diagnose): `env-file` alone, else as readEnvFile; undefined without either. */
export function readEnvFileLocation(inputs: Inputs, appDir: string | undefined): string | undefined {
  if (appDir) return readEnvFile(inputs, appDir).envFile;
  const given = inputs.string('env-file');
  return given ? parseAppDir('env-file', given) : undefined;
}
