/**
 * The one way to build a remote shell command. Literal text comes only from template strings
 * written in this code base; every interpolated value is single-quoted, so no input can ever be
 * read by the remote shell as code. A ShellCommand can only be made here, so a string cannot be
 * passed where a command is expected.
 *
 *   sh`ln -sfn ${target} ${tmp} && mv -T ${tmp} ${link}`
 */
const BUILDER = Symbol('shell command builder');

export class ShellCommand {
  /** Only the builders in this module hold BUILDER, so no other code can wrap a raw string. */
  constructor(
    key: typeof BUILDER,
    readonly text: string,
  ) {
    if (key !== BUILDER) throw new Error('ShellCommand is made by sh`…` only');
  }

  toString(): string {
    return this.text;
  }
}

export type ShellValue = string | number | ShellCommand | readonly (string | number)[];

/** POSIX single-quoting: the only character that needs care inside '…' is ' itself. */
export function quote(value: string | number): string {
  const text = String(value);
  if (text.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function render(value: ShellValue): string {
  if (value instanceof ShellCommand) return value.text;
  if (Array.isArray(value)) return value.map((item) => quote(item)).join(' ');
  return quote(value as string | number);
}

/** Tagged template: literals verbatim, every value quoted (arrays become several quoted words). */
export function sh(literals: TemplateStringsArray, ...values: ShellValue[]): ShellCommand {
  let text = literals[0] ?? '';
  values.forEach((value, i) => {
    text += render(value) + (literals[i + 1] ?? '');
  });
  return new ShellCommand(BUILDER, text);
}

/** Commands joined with `&&`: each runs only if the one before succeeded. None: `true`. */
export function allOf(...commands: ShellCommand[]): ShellCommand {
  if (commands.length === 0) return new ShellCommand(BUILDER, 'true');
  return new ShellCommand(BUILDER, commands.map((c) => `{ ${c.text}; }`).join(' && '));
}

/** A user-authored command (install, pre-switch) run as one quoted argument to `sh -c`, in `dir`. */
export function userCommand(dir: string, command: string): ShellCommand {
  return sh`cd ${dir} && sh -c ${command}`;
}

/**
 * Runs `command` so that it dies with the SSH connection. OpenSSH leaves an exec'd command running
 * when the connection drops (no pty, so no SIGHUP): a cut-off install would go on unsupervised,
 * writing into a release nobody will use. The command runs in its own process group; a watcher
 * polls the sshd process that started us ($PPID) and ends the group once that is gone. The
 * watcher's output goes to /dev/null so that it cannot hold the channel open after the command ends.
 */
export function tiedToConnection(command: ShellCommand): ShellCommand {
  return sh`setsid sh -c ${command.text} & job=$!
( while kill -0 "$PPID" 2>/dev/null && kill -0 "$job" 2>/dev/null; do sleep 1; done
  kill -0 "$PPID" 2>/dev/null || kill -TERM -- "-$job" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
watcher=$!
wait "$job"; status=$?
kill "$watcher" 2>/dev/null
exit "$status"`;
}
