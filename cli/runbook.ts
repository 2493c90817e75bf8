/**
 * `runbook`: the runbook's procedures from a terminal, for when GitHub itself is down. Same cores,
 * same input names and defaults as the actions.
 *
 *   npm run runbook -- health --url https://api.bunty.example/health --success-threshold 3
 */
import { Inputs } from '../shared/src/config/inputs.js';
import { ConfigurationError, OperationError, errorText } from '../shared/src/errors.js';
import { healthFailure } from '../shared/src/health/failure.js';
import { readHealthOptions } from '../shared/src/health/inputs.js';
import { verifyHealth } from '../shared/src/health/verify.js';
import { Redactor } from '../shared/src/redact/redactor.js';
import { consoleLog } from './console-log.js';
import { actionDefaults, parseFlags } from './flags.js';

const USAGE = `usage: runbook <command> [--input value ...]

commands:
  health    verify a deployment (the inputs of action-health, e.g. --url, --expected-version)

Every --flag is the action input of the same name, with the same default.`;

async function health(argv: string[], redactor: Redactor): Promise<void> {
  const log = consoleLog(redactor);
  const flags = parseFlags(argv, actionDefaults('action-health'));
  const options = readHealthOptions(
    new Inputs({ raw: (name) => flags[name] ?? '', mask: (secret) => void redactor.add(secret) }),
  );
  const report = await verifyHealth(options, { log });
  if (!report.healthy) throw healthFailure(report);
  log.info(
    `healthy after ${report.attempts} attempt(s), ${report.latencyMs} ms, release ${report.version ?? 'not reported'}`,
  );
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const redactor = new Redactor();
  try {
    if (command === 'health') await health(rest, redactor);
    else {
      console.error(USAGE);
      return command === undefined || command === '--help' ? 0 : 1;
    }
    return 0;
  } catch (error) {
    const text =
      error instanceof ConfigurationError
        ? `${error.message} Nothing was changed.`
        : error instanceof OperationError
          ? `${error.message}\nWhat to do: ${error.hint}`
          : `Unexpected error: ${errorText(error)}`;
    console.error(`error: ${redactor.redact(text)}`);
    return 1;
  }
}

process.exitCode = await main();
