/**
 * Writes each action README's inputs and outputs tables from its action.yml, between the
 * `<!-- inputs:start -->`/`<!-- inputs:end -->` and `<!-- outputs:start -->`/`<!-- outputs:end -->`
 * markers, so the documentation cannot drift from the contract. `--check` only reports drift.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'prettier';
import { parse } from 'yaml';
import { actionDirs, repoRoot } from './actions.js';
import { describeConfirm, describeOperations } from '../shared/src/ops/operations/table.js';

interface ActionYaml {
  description?: string;
  inputs?: Record<string, { description?: string; required?: boolean; default?: string }>;
  outputs?: Record<string, { description?: string }>;
}

const cell = (text: string) =>
  text
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
    .trim();
const code = (text: string) => (text === '' ? '' : `\`${text.replace(/`/g, "'")}\``);

export function inputsTable(spec: ActionYaml): string {
  const rows = Object.entries(spec.inputs ?? {}).map(
    ([name, input]) =>
      `| \`${name}\` | ${input.required ? 'yes' : 'no'} | ${code(input.default ?? '')} | ${cell(input.description ?? '')} |`,
  );
  return ['| input | required | default | description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export function outputsTable(spec: ActionYaml): string {
  const rows = Object.entries(spec.outputs ?? {}).map(
    ([name, output]) => `| \`${name}\` | ${cell(output.description ?? '')} |`,
  );
  return ['| output | description |', '| --- | --- |', ...rows].join('\n');
}

function replaceBlock(text: string, marker: string, body: string, file: string): string {
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from === -1 || to < from) throw new Error(`${file}: missing ${start} … ${end} markers`);
  return `${text.slice(0, from + start.length)}\n\n${body}\n\n${text.slice(to)}`;
}

const check = process.argv.includes('--check');
let stale = 0;

/** A one-line description in action.yml, single-quoted as the files write them. */
function setInputDescription(yamlText: string, input: string, description: string, file: string): string {
  const line = new RegExp(`^(  ${input}:\\n    description: ).*$`, 'm');
  if (!line.test(yamlText)) throw new Error(`${file}: no one-line description for input ${input}`);
  return yamlText.replace(line, (_m, head: string) => `${head}'${description.replace(/'/g, "''")}'`);
}

// action-ops: the `operation` and `confirm` inputs are described from the operations table.
{
  const file = join(repoRoot, 'action-ops', 'action.yml');
  const current = readFileSync(file, 'utf8');
  let next = setInputDescription(current, 'operation', describeOperations(), file);
  next = setInputDescription(next, 'confirm', describeConfirm(), file);
  if (next !== current) {
    if (check) {
      stale++;
      console.error('action-ops/action.yml is stale (the operations table changed): run `npm run docs`.');
    } else {
      writeFileSync(file, next);
      console.log('wrote action-ops/action.yml (operation, confirm)');
    }
  }
}
for (const action of actionDirs()) {
  const spec = parse(readFileSync(join(repoRoot, action, 'action.yml'), 'utf8')) as ActionYaml;
  const file = join(repoRoot, action, 'README.md');
  const current = readFileSync(file, 'utf8');
  let next = replaceBlock(current, 'inputs', inputsTable(spec), file);
  next = replaceBlock(next, 'outputs', outputsTable(spec), file);
  next = await format(next, { parser: 'markdown', filepath: file, singleQuote: true, printWidth: 110 });
  if (next === current) continue;
  if (check) {
    stale++;
    console.error(`${action}/README.md is stale: run \`npm run docs\` and commit it.`);
  } else {
    writeFileSync(file, next);
    console.log(`wrote ${action}/README.md`);
  }
}
// The CLI's help and defaults come from the same action.yml files, compiled in (the standalone
// bundle has no action.yml beside it to read).
const specs = Object.fromEntries(
  actionDirs().map((action) => {
    const spec = parse(readFileSync(join(repoRoot, action, 'action.yml'), 'utf8')) as ActionYaml;
    return [
      action,
      {
        description: (spec.description ?? '').replace(/\s+/g, ' ').trim(),
        inputs: Object.fromEntries(
          Object.entries(spec.inputs ?? {}).map(([name, input]) => [
            name,
            {
              description: (input.description ?? '').replace(/\s+/g, ' ').trim(),
              required: input.required === true,
              default: String(input.default ?? ''),
            },
          ]),
        ),
        outputs: Object.fromEntries(
          Object.entries(spec.outputs ?? {}).map(([name, output]) => [
            name,
            (output.description ?? '').replace(/\s+/g, ' ').trim(),
          ]),
        ),
      },
    ];
  }),
);
const specsFile = join(repoRoot, 'cli', 'action-specs.ts');
const specsText = await format(
  `/** Generated by scripts/docs.ts from every action.yml: do not edit. */\nexport const ACTION_SPECS = ${JSON.stringify(specs)} as const satisfies Record<string, ActionSpec>;\n\nexport interface ActionSpec {\n  description: string;\n  inputs: Record<string, { description: string; required: boolean; default: string }>;\n  outputs: Record<string, string>;\n}\n`,
  { parser: 'typescript', filepath: specsFile, singleQuote: true, printWidth: 110 },
);
let currentSpecs = '';
try {
  currentSpecs = readFileSync(specsFile, 'utf8');
} catch {
  // not written yet
}
if (specsText !== currentSpecs) {
  if (check) {
    stale++;
    console.error('cli/action-specs.ts is stale: run `npm run docs` and commit it.');
  } else {
    writeFileSync(specsFile, specsText);
    console.log('wrote cli/action-specs.ts');
  }
}
if (stale > 0) process.exit(1);
