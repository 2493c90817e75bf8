/**
 * Bytes from a command on one host into a command on another, through this process's memory only:
 * never the runner's disk, never a log. Used to give a new host the fleet's release and shared files
 * (`.env`), which hold secrets. Backpressure is the streams' own (pipeline), so a large release costs
 * a few buffers of memory, not its size.
 */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lastLines, RemoteCommandError, type RemoteStream, type StreamExit } from './session.js';
import type { SshSession } from './session.js';
import type { ShellCommand } from './shell.js';

const STOP_GRACE_MS = 5000;

export interface CopyEnd {
  session: SshSession;
  step: string;
  command: ShellCommand;
}

export interface CopyOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Pipes `from`'s stdout into `to`'s stdin; resolves with the bytes copied once both exit 0. */
export async function copyBetweenHosts(from: CopyEnd, to: CopyEnd, options: CopyOptions): Promise<number> {
  const reader = await from.session.stream(from.step, from.command);
  let writer: RemoteStream;
  try {
    writer = await to.session.stream(to.step, to.command);
  } catch (error) {
    reader.channel.close();
    throw error;
  }
  reader.channel.end(); // the reading command gets no input
  // The writing command's own output is read (and dropped): ssh2 closes a channel only once its
  // readable side has ended, so unread output would keep it open after the command exits.
  writer.channel.resume();
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  let stopped: string | undefined;
  let givenUp: () => void = () => undefined;
  // OpenSSH keeps an exec channel open while its command runs, whatever we send: once stopped, each
  // side gets a few seconds to exit before it is given up on (its exit then reads as unknown).
  const giveUp = new Promise<void>((resolve) => (givenUp = resolve));
  const stop = (why: string) => {
    if (stopped) return;
    stopped = why;
    writer.channel.end(); // EOF: the writing command sees a cut stream and exits with an error
    reader.channel.close();
    writer.channel.close();
    setTimeout(givenUp, STOP_GRACE_MS).unref();
  };
  const settled = (end: RemoteStream) =>
    Promise.race([end.exit, giveUp.then((): StreamExit => ({ code: null, stderr: '' }))]);
  const timer = setTimeout(() => stop(`timed out after ${options.timeoutMs} ms`), options.timeoutMs);
  const onAbort = () => stop(`cancelled (${String(options.signal?.reason ?? 'aborted')})`);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  // Either side ending badly ends the other: a writer whose reader died would wait for input forever.
  let first: { end: RemoteStream; exit: StreamExit } | undefined;
  for (const end of [reader, writer])
    void end.exit.then((exit) => {
      if (exit.code === 0) return;
      if (!stopped) first ??= { end, exit };
      stop(`${end.step} on ${end.host} ended first`);
    });
  try {
    // A pipe that breaks (one side exits early, a connection drops) is told by the exits; a moment
    // is left for them to say which side it was before the copy is stopped for it.
    void pipeline(reader.channel, counter, writer.channel).catch(() =>
      setTimeout(() => stop('the copy was interrupted'), 1000).unref(),
    );
    const [read, written] = await Promise.all([settled(reader), settled(writer)]);
    // The side that failed first is the cause (a full disk on the writer, a connection lost on the
    // reader); the other's broken pipe is its effect.
    if (first) throw copyFailure(first.end, first.exit, undefined);
    for (const [end, exit] of [
      [writer, written],
      [reader, read],
    ] as const)
      if (exit.code !== 0) throw copyFailure(end, exit, stopped);
    if (stopped) throw copyFailure(writer, written, stopped);
    return bytes;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

function copyFailure(end: RemoteStream, exit: StreamExit, stopped: string | undefined): RemoteCommandError {
  const why =
    exit.code === null
      ? (stopped ?? (exit.signal ? `ended by signal ${exit.signal}` : 'the connection was lost during it'))
      : `exit code ${exit.code}${stopped ? ` (${stopped})` : ''}`;
  return new RemoteCommandError(
    end.step,
    end.host,
    exit.code,
    lastLines(exit.stderr),
    'read the stderr lines above (free disk space: df -h; the connection); nothing is left half-copied — run again.',
    why,
  );
}
