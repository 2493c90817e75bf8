/**
 * `runbook`: the runbook's procedures from a terminal (see program.ts). Run from a clone with
 * `npm run runbook -- <command>`, or anywhere as the standalone bundle: `node runbook.mjs <command>`.
 */
import { runCli } from './program.js';

// `runbook … | head`: a reader that stops early is not an error of ours.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await runCli({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  tty: process.stderr.isTTY === true,
});
