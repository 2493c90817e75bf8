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

interface ActionYaml {
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
if (stale > 0) process.exit(1);
