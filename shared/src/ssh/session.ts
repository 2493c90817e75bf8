/**
 * One SSH connection to one host, through which every remote step runs. A command that exits
 * non-zero, times out or loses its connection throws RemoteCommandError with the step's name, the
 * host, the exit code and the last lines of stderr: never a green step after a failed command.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { NodeSSH } from 'node-ssh';
import type { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import type { ShellCommand } from './shell.js';
import { describeTarget, type SshTarget } from './target.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  timeoutMs?: number;
  stdin?: string;
  /** Exit codes that are answers rather than failures (e.g. `test -e` → 1). */
  okCodes?: number[];
  /** Stop waiting when aborted; the command may go on on the host (see tiedToConnection). */
  signal?: AbortSignal;
}

const STDERR_TAIL_LINES = 12;

export interface StreamExit {
  code: number | null;
  signal?: string;
  stderr: string;
}

/** A command running on a host, as a stream (see SshSession.stream). */
export interface RemoteStream {
  step: string;
  host: string;
  channel: ClientChannel;
  exit: Promise<StreamExit>;
}

export class RemoteCommandError extends OperationError {
  constructor(
    readonly step: string,
    readonly host: string,
    readonly code: number | null,
    stderrTail: string,
    hint: string,
    why?: string,
  ) {
    super(
      `${step} failed on ${host}: ${why ?? `exit code ${code}`}${stderrTail ? `. Last stderr lines:\n${stderrTail}` : '.'}`,
      hint,
    );
  }
}

/** The connection dropped while a step ran: the step may or may not have taken effect on the host. */
export class ConnectionLost extends RemoteCommandError {
  constructor(step: string, host: string, detail?: string) {
    super(
      step,
      host,
      null,
      '',
      `check ${host} is up (ping, the DigitalOcean console) and sshd runs; the step may have run partly, so read the host's state before running again.`,
      `the connection to ${host} was lost during it${detail ? ` (${detail})` : ''}`,
    );
  }
}

export function lastLines(text: string, count = STDERR_TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

export class SshSession {
  readonly name: string;

  constructor(
    private readonly ssh: NodeSSH,
    readonly target: SshTarget,
    /** `SHA256:…` of the key the host offered. */
    readonly hostKey: string,
    private readonly log: Log,
    private readonly defaultTimeoutMs: number,
    private readonly onClose: () => void = () => undefined,
  ) {
    this.name = describeTarget(target);
  }

  /** Runs one named step; throws RemoteCommandError unless it exits with 0 (or an okCode). */
  async run(step: string, command: ShellCommand, options: RunOptions = {}): Promise<CommandResult> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    this.log.debug(`${this.name}: ${step}: ${command.text}`);
    let channel: ClientChannel | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const signal = options.signal;
    let stop: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      stop = () => {
        channel?.close();
        reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
    aborted.catch(() => undefined); // settled after the race only if the command won: nobody listens then
    let response;
    try {
      const outcome = await Promise.race([
        this.ssh.execCommand(command.text, {
          stdin: options.stdin,
          noTrim: true,
          onChannel: (c) => (channel = c),
        }),
        timedOut,
        aborted,
      ]);
      if (outcome === 'timeout') {
        // OpenSSH ignores signal requests for plain exec channels: the process may well live on.
        channel?.close();
        throw new RemoteCommandError(
          step,
          this.name,
          null,
          '',
          'raise the timeout if the step is slow; it may still be running on the host.',
          `timed out after ${timeoutMs} ms`,
        );
      }
      response = outcome;
    } catch (error) {
      if (error instanceof RemoteCommandError || error === signal?.reason) throw error;
      throw new ConnectionLost(step, this.name, error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
      if (stop) signal?.removeEventListener('abort', stop);
    }
    // A channel that closes with neither an exit code nor a signal: the connection went away under it.
    if (response.code === null && !response.signal) throw new ConnectionLost(step, this.name);
    const code = response.code ?? -1;
    if (code !== 0 && !(options.okCodes ?? []).includes(code)) {
      const why = response.code === null ? `ended by signal ${response.signal}` : `exit code ${code}`;
      throw new RemoteCommandError(
        step,
        this.name,
        code,
        lastLines(response.stderr),
        'read the stderr lines above; fix the cause on the host or in the inputs and run again.',
        why,
      );
    }
    return { stdout: response.stdout, stderr: response.stderr, code };
  }

  upload(step: string, localFile: string, remoteFile: string): Promise<void> {
    return this.transfer(step, 'upload', 'the host', () => this.ssh.putFile(localFile, remoteFile));
  }

  download(step: string, remoteFile: string, localFile: string): Promise<void> {
    return this.transfer(step, 'download', 'the runner', () => this.ssh.getFile(localFile, remoteFile));
  }

  /** An SFTP copy; a failure names the step and where to look for free space. */
  private async transfer(
    step: string,
    kind: 'upload' | 'download',
    target: string,
    copy: () => Promise<void>,
  ): Promise<void> {
    try {
      await copy();
    } catch (error) {
      throw new RemoteCommandError(
        step,
        this.name,
        null,
        '',
        `check free disk space on ${target} (df -h) and the connection, then run again.`,
        `${kind} failed (${error instanceof Error ? error.message : String(error)})`,
      );
    }
  }

  /**
   * Starts a command and hands back its channel as a stream (stdout to read, stdin to write) for
   * bytes that must not be held as a string or touch a disk: a host-to-host copy. `exit` settles
   * when the channel closes, with the exit code (null when the connection went away) and stderr's tail.
   */
  async stream(step: string, command: ShellCommand): Promise<RemoteStream> {
    this.log.debug(`${this.name}: ${step}: ${command.text}`);
    const client = this.ssh.connection;
    if (!client) throw new ConnectionLost(step, this.name);
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      try {
        client.exec(command.text, (error, opened) => (error ? reject(error) : resolve(opened)));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    }).catch((error: unknown) => {
      throw new ConnectionLost(step, this.name, error instanceof Error ? error.message : String(error));
    });
    let stderr = '';
    channel.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
    const exit = new Promise<StreamExit>((resolve) => {
      let code: number | null = null;
      let signal: string | undefined;
      channel.on('exit', (exitCode: number | null, exitSignal?: string) => {
        code = exitCode;
        signal = exitSignal ?? undefined;
      });
      // A connection that dies under it may never close the channel: its own close ends the wait too.
      const lost = () => resolve({ code: null, stderr });
      client.once('close', lost);
      channel.on('close', () => {
        client.off('close', lost);
        resolve({ code, ...(signal ? { signal } : {}), stderr });
      });
    });
    return { step, host: this.name, channel, exit };
  }

  /**
   * A TCP stream to `host:port` as seen from the host (ssh -L without a local port), e.g. to probe
   * an app on a port the firewall keeps closed. A refusal there fails with code ECONNREFUSED.
   */
  forward(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const client = this.ssh.connection;
      if (!client)
        return reject(Object.assign(new Error(`not connected to ${this.name}`), { code: 'ECONNRESET' }));
      client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => {
        if (!error) return resolve(channel);
        const refused = /refused|connect failed/i.test(error.message);
        reject(
          Object.assign(new Error(`${host}:${port} on ${this.name}: ${error.message}`), {
            code: refused ? 'ECONNREFUSED' : 'ECONNRESET',
          }),
        );
      });
    });
  }

  get connected(): boolean {
    return this.ssh.isConnected();
  }

  /** Closes the connection — or, inside keepingSessions, keeps a live one for the run's last step. */
  close(): void {
    const kept = keptSessions.getStore();
    if (kept && this.connected && !kept.has(this.name)) {
      kept.set(this.name, this);
      return;
    }
    this.dispose();
  }

  /** Closes the connection, kept or not. */
  dispose(): void {
    this.ssh.dispose();
    this.onClose();
  }
}

const keptSessions = new AsyncLocalStorage<Map<string, SshSession>>();

/**
 * Runs `fn` with every live session it closes kept open instead, by host name, in `kept`: the run's
 * audit line then goes over the connection the procedure used (one SSH connection per host per run).
 * The caller disposes of them.
 */
export function keepingSessions<T>(kept: Map<string, SshSession>, fn: () => Promise<T>): Promise<T> {
  return keptSessions.run(kept, fn);
}
