/**
 * `npm run lint`'s workflow step: actionlint over this repository's workflows and the example
 * callers, or over the files named on the command line. Exit 1 on any finding.
 */
import { resolve } from 'node:path';
import { lintWorkflows, readWorkflow, workflowFiles } from './workflows.js';

const named = process.argv.slice(2);
const files = named.length ? named.map((path) => readWorkflow(resolve(path))) : workflowFiles();
const log = await lintWorkflows(files);
if (log) {
  console.log(log);
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflow files clean (${files.map((f) => f.path).join(', ')})`);
