/**
 * `runbook`: the runbook's procedures from a terminal, for when GitHub itself is down — built on
 * commander, its help generated from each action's action.yml (compiled in as action-specs.ts), so
 * the CLI and the actions cannot drift. Where an input's value comes from, first found wins:
 *   --flag  >  RUNBOOK_<INPUT> (RUNBOOK_SSH_KEY)  >  runbook.yml's --env environment  >  the action's default.
 * A value `@path` is read from that file (`~/` is the home directory).
 *
 * Exit codes: 0 done; 1 the operation failed or a check found a problem; 2 bad usage or input
 * (nothing changed); 3 refused for safety (unconfirmed, another run holds the lock, a gate not met).
 */
import { Argument, Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { Inputs } from '../shared/src/config/inputs.js';
import { ConfigurationError, OperationError, errorText, isSafetyRefusal } from '../shared/src/errors.js';
import { Redactor } from '../shared/src/redact/redactor.js';
import type { RunContext } from '../shared/src/result.js';
import { cancelOnSignals } from '../shared/src/cancel.js';
import { ACTION_SPECS } from './action-specs.js';
import { COMMANDS, type CommandSpec } from './commands.js';
import { environmentSettings, loadEnvironmentFile, type Settings } from './config.js';
import { consoleLog } from './console-log.js';
import { extraCommands } from './extra-commands.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3 } as const;

export interface Io {
  argv: string[];
  env: NodeJS.ProcessEnv;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal: step lines with elapsed time. */
  tty: boolean;
}

interface GlobalFlags {
  env?: string;
  config?: string;
  json?: boolean;
  verbose?: boolean;
}

const envName = (input: string) => `RUNBOOK_${input.toUpperCase().replace(/-/g, '_')}`;
const allInputs = new Set(Object.values(ACTION_SPECS).flatMap((spec) => Object.keys(spec.inputs)));
const commandNames = new Set(COMMANDS.map((c) => c.name));

function readAt(input: string, value: string): string {
  if (!value.startsWith('@')) return value;
  const path = value.slice(1).replace(/^~(?=\/)/, homedir());
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new ConfigurationError(input, `cannot read the file ${JSON.stringify(path)}.`);
  }
}

/** The lease holder is the person at the terminal; the sha must be given with --sha. */
function cliContext(): RunContext {
  return { holder: { description: `runbook CLI on ${hostname()}`, actor: userInfo().username } };
}

type Origin = 'flag' | 'environment variable' | 'runbook.yml' | 'default';

/** The command's inputs, from flags, RUNBOOK_* variables, the environment file and the defaults. */
function commandInputs(
  spec: CommandSpec,
  flags: Record<string, string>,
  settings: Settings,
  io: Io,
  redactor: Redactor,
  warn: (line: string) => void,
): Inputs {
  const defaults = Object.fromEntries(
    Object.entries(ACTION_SPECS[spec.action].inputs).map(([name, input]) => [name, input.default]),
  );
  const origin = (name: string): [Origin, string] => {
    if (spec.fixed?.[name] !== undefined) return ['default', spec.fixed[name]];
    if (flags[name] !== undefined) return ['flag', flags[name]];
    const fromEnv = io.env[envName(name)];
    if (fromEnv !== undefined) return ['environment variable', fromEnv];
    if (settings[name] !== undefined) return ['runbook.yml', settings[name]];
    return ['default', spec.terminal?.[name] ?? defaults[name] ?? ''];
  };
  const warned = new Set<string>();
  return new Inputs({
    raw: (name) => readAt(name, origin(name)[1]),
    mask: (secret) => void redactor.add(secret),
    secretRead: (name) => {
      const [from, value] = origin(name);
      if (value.startsWith('@') || warned.has(name)) return;
      warned.add(name);
      if (from === 'runbook.yml')
        throw new ConfigurationError(
          name,
          `is a secret and must not be written in the environment file: give it as ${envName(name)}, --${name} @file, or \`${name}: '@path'\` there.`,
        );
      if (from === 'flag')
        warn(
          `--${name} was given as plain text: it is now in your shell history and the process list. Next time use --${name} @file or ${envName(name)}.`,
        );
    },
  });
}

function helpText(input: { description: string; required: boolean; default: string }, name: string): string {
  const extra = [
    input.required ? 'required' : '',
    input.default !== '' ? `default: ${JSON.stringify(input.default)}` : '',
    `or ${envName(name)}`,
  ].filter(Boolean);
  return `${input.description} (${extra.join('; ')})`;
}

const collect = (value: string, previous: string | undefined) =>
  previous === undefined ? value : `${previous}\n${value}`;

function addGlobalFlags(command: Command): Command {
  return command
    .option('--env <name>', 'an environment of runbook.yml: its hosts, paths and settings')
    .option('--config <file>', 'the environment file (default: runbook.yml, .yaml or .json here)')
    .option('--json', "print the action's outputs as one JSON object on stdout")
    .option('--verbose', 'step lines on stderr even when it is not a terminal');
}

/** Builds the program; `onRun` receives the chosen command with its flags and arguments. */
function buildProgram(
  io: Io,
  onRun: (spec: CommandSpec, flags: Record<string, string>, globals: GlobalFlags) => void,
  onExtra: (code: Promise<number>) => void,
): Command {
  const program = new Command('runbook')
    .description(
      'The runbook of the Bunty API as commands: the same procedures, input names and defaults as the GitHub Actions.',
    )
    .addHelpText(
      'after',
      `
Every input comes, first found: --flag, RUNBOOK_<INPUT> (e.g. RUNBOOK_SSH_KEY), the --env environment of
runbook.yml, the action's default. A value @path is read from that file: keep secrets there or in RUNBOOK_*.

Exit codes: 0 done · 1 the operation failed or a check found a problem · 2 bad usage or input, nothing
changed · 3 refused for safety (unconfirmed, another run holds the lock, a gate not met).`,
    )
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(add --help for the inputs)');
  for (const spec of COMMANDS) {
    const action = ACTION_SPECS[spec.action];
    const command = program
      .command(spec.name)
      .summary(spec.summary)
      .description(`${spec.summary}.\n\n${action.description}`);
    if (spec.argument) {
      const argument = new Argument(
        `<${spec.argument.input}>`,
        (action.inputs as Record<string, { description: string } | undefined>)[spec.argument.input]
          ?.description ?? 'what to do',
      );
      command.addArgument(spec.argument.choices ? argument.choices(spec.argument.choices) : argument);
    }
    // Each input's option, by input name: commander keeps its value under the option's attribute name.
    const inputOptions = new Map<string, Option>();
    for (const [name, input] of Object.entries(action.inputs)) {
      if (spec.fixed?.[name] !== undefined || name === spec.argument?.input || spec.hide?.includes(name))
        continue;
      const option = new Option(
        `--${name} <value>`,
        helpText({ ...input, default: spec.terminal?.[name] ?? input.default }, name),
      ).argParser(collect);
      command.addOption(option);
      inputOptions.set(name, option);
    }
    addGlobalFlags(command).action((...args: unknown[]) => {
      const options = (args.at(-2) ?? {}) as Record<string, unknown>;
      const flags: Record<string, string> = {};
      for (const [name, option] of inputOptions) {
        const value = options[option.attributeName()];
        if (typeof value === 'string') flags[name] = value;
      }
      if (spec.argument) flags[spec.argument.input] = String(args[0]);
      onRun(spec, flags, options as GlobalFlags);
    });
  }
  extraCommands(program, io, onExtra);
  return program;
}

function failureExit(error: unknown): number {
  if (isSafetyRefusal(error)) return EXIT.refused;
  if (error instanceof ConfigurationError) return EXIT.usage;
  return EXIT.failed;
}

function failureText(error: unknown): string {
  if (error instanceof ConfigurationError)
    return /Nothing was (changed|applied)/.test(error.message)
      ? error.message
      : `${error.message} Nothing was changed.`;
  if (error instanceof OperationError) return `${error.message}\nWhat to do: ${error.hint}`;
  return `Unexpected error (a bug in runbook-actions, please report it): ${errorText(error)}`;
}

/** Markdown summary as plain text for a terminal: headings without their #, tables kept. */
function plainSummary(markdown: string): string {
  return markdown.replace(/^#{1,6} /gm, '').trim();
}

export async function runCli(io: Io): Promise<number> {
  const redactor = new Redactor();
  let chosen: { spec: CommandSpec; flags: Record<string, string>; globals: GlobalFlags } | undefined;
  let extra: Promise<number> | undefined;
  const program = buildProgram(
    io,
    (spec, flags, globals) => {
      chosen = { spec, flags, globals };
    },
    (code) => {
      extra = code;
    },
  );
  try {
    await program.parseAsync(io.argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError)
      return error.exitCode === 0 ||
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version'
        ? EXIT.ok
        : EXIT.usage;
    io.stderr(`error: ${redactor.redact(failureText(error))}\n`);
    return failureExit(error);
  }
  if (extra) return extra;
  if (!chosen) return EXIT.ok; // help was shown
  const { spec, flags, globals } = chosen;
  const log = consoleLog(redactor, {
    steps: io.tty || globals.verbose === true,
    elapsed: io.tty,
    write: (line) => io.stderr(`${line}\n`),
  });
  try {
    const file = loadEnvironmentFile(
      globals.config,
      (n) => allInputs.has(n),
      (n) => commandNames.has(n),
    );
    if (globals.env && !file)
      throw new ConfigurationError(
        'env',
        `there is no runbook.yml (or .yaml, .json) here to take ${JSON.stringify(globals.env)} from; give --config.`,
      );
    const settings = file && globals.env ? environmentSettings(file, globals.env, spec.name) : {};
    const inputs = commandInputs(spec, flags, settings, io, redactor, (line) => log.warn(line));
    const result = await spec.run(inputs, cliContext(), { log, signal: cancelOnSignals() });
    if (globals.json) io.stdout(`${redactor.redact(JSON.stringify(result.outputs))}\n`);
    else io.stdout(`${redactor.redact(plainSummary(result.summary))}\n`);
    if (result.failure) throw result.failure;
    return EXIT.ok;
  } catch (error) {
    io.stderr(`error: ${redactor.redact(failureText(error))}\n`);
    return failureExit(error);
  }
}
