/**
 * The runbook's Redis checks (`redis-cli ping`, `INFO memory`, `INFO clients`, `SLOWLOG GET`) over a
 * plain TCP connection speaking RESP — four read-only commands do not justify a client library in
 * every bundle. The password goes in an AUTH command on the connection, never on a command line.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';

export interface RedisFacts {
  reachable: boolean;
  error?: string;
  latencyMs?: number;
  usedMemoryBytes?: number;
  maxMemoryBytes?: number;
  connectedClients?: number;
  blockedClients?: number;
  slowlog: { id: number; at: string; durationMicros: number; command: string }[];
}

export type Reply = string | number | null | Reply[] | Error;

/** Parses one RESP reply at `at`; undefined when the buffer does not hold all of it yet. */
function parseReply(buf: string, at: number): { value: Reply; end: number } | undefined {
  const nl = buf.indexOf('\r\n', at);
  if (nl === -1) return undefined;
  const type = buf[at];
  const line = buf.slice(at + 1, nl);
  if (type === '+') return { value: line, end: nl + 2 };
  if (type === '-') return { value: new Error(line), end: nl + 2 };
  if (type === ':') return { value: Number(line), end: nl + 2 };
  if (type === '$') {
    const len = Number(line);
    if (len < 0) return { value: null, end: nl + 2 };
    // Lengths are in bytes; the buffer is latin1 so one character is one byte.
    if (buf.length < nl + 2 + len + 2) return undefined;
    return {
      value: Buffer.from(buf.slice(nl + 2, nl + 2 + len), 'latin1').toString('utf8'),
      end: nl + 2 + len + 2,
    };
  }
  if (type === '*') {
    const count = Number(line);
    if (count < 0) return { value: null, end: nl + 2 };
    const items: Reply[] = [];
    let end = nl + 2;
    for (let i = 0; i < count; i++) {
      const item = parseReply(buf, end);
      if (!item) return undefined;
      items.push(item.value);
      end = item.end;
    }
    return { value: items, end };
  }
  throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
}

const encode = (args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** Sends the commands in one pipeline and returns their replies in order. */
export async function pipeline(url: URL, commands: string[][], timeoutMs: number): Promise<Reply[]> {
  const port = Number(url.port || 6379);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const socket =
    url.protocol === 'rediss:' ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
  return new Promise<Reply[]>((resolve, reject) => {
    let buf = '';
    const replies: Reply[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.once(url.protocol === 'rediss:' ? 'secureConnect' : 'connect', () =>
      socket.write(commands.map(encode).join('')),
    );
    socket.on('data', (chunk: string) => {
      buf += chunk;
      let at = 0;
      for (let r = parseReply(buf, at); r; r = parseReply(buf, at)) {
        replies.push(r.value);
        at = r.end;
        if (replies.length === commands.length) {
          clearTimeout(timer);
          socket.end();
          resolve(replies);
          return;
        }
      }
      buf = buf.slice(at);
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (replies.length < commands.length) reject(new Error('the connection closed before every answer'));
    });
  });
}

function infoField(info: Reply | undefined, key: string): number | undefined {
  if (typeof info !== 'string') return undefined;
  const m = new RegExp(`^${key}:(\\d+)`, 'm').exec(info);
  return m ? Number(m[1]) : undefined;
}

export async function checkRedis(url: URL, timeoutMs: number): Promise<RedisFacts> {
  const started = performance.now();
  const auth: string[][] = [];
  const password = decodeURIComponent(url.password);
  const user = decodeURIComponent(url.username);
  if (password) auth.push(user ? ['AUTH', user, password] : ['AUTH', password]);
  const db = url.pathname.replace(/^\//, '');
  if (db) auth.push(['SELECT', db]);
  try {
    const replies = await pipeline(
      url,
      [...auth, ['PING'], ['INFO', 'memory'], ['INFO', 'clients'], ['SLOWLOG', 'GET', '5']],
      timeoutMs,
    );
    const refused = replies.find((r) => r instanceof Error);
    if (refused)
      return { reachable: false, error: `Redis refused: ${(refused as Error).message}`, slowlog: [] };
    const [ping, memory, clients, slowlog] = replies.slice(auth.length);
    const entries = Array.isArray(slowlog) ? slowlog : [];
    return {
      reachable: ping === 'PONG',
      latencyMs: Math.round(performance.now() - started),
      ...(infoField(memory, 'used_memory') !== undefined
        ? { usedMemoryBytes: infoField(memory, 'used_memory') }
        : {}),
      ...(infoField(memory, 'maxmemory') ? { maxMemoryBytes: infoField(memory, 'maxmemory') } : {}),
      ...(infoField(clients, 'connected_clients') !== undefined
        ? { connectedClients: infoField(clients, 'connected_clients') }
        : {}),
      ...(infoField(clients, 'blocked_clients') !== undefined
        ? { blockedClients: infoField(clients, 'blocked_clients') }
        : {}),
      slowlog: entries.filter(Array.isArray).map((e) => {
        const [id, at, micros, args] = e as Reply[];
        return {
          id: Number(id),
          at: new Date(Number(at) * 1000).toISOString(),
          durationMicros: Number(micros),
          // The command name only: its arguments may hold keys and values.
          command: Array.isArray(args) && typeof args[0] === 'string' ? args[0] : '?',
        };
      }),
    };
  } catch (error) {
    return {
      reachable: false,
      error: `not reachable: ${error instanceof Error ? error.message : String(error)}`,
      slowlog: [],
    };
  }
}

/**
 * The same checks through `redis-cli` on a host, for a Redis that listens only there. The password
 * reaches redis-cli through its environment (REDISCLI_AUTH), read from stdin: never a command line.
 */
export async function checkRedisOnHost(
  session: SshSession,
  port: number,
  password: string | undefined,
): Promise<RedisFacts> {
  const started = performance.now();
  const { stdout, code } = await session.run(
    'redis-cli on the host',
    sh`command -v redis-cli >/dev/null 2>&1 || exit 44
IFS= read -r pass || true
if [ -n "$pass" ]; then export REDISCLI_AUTH="$pass"; fi
echo '@@ping'; redis-cli -p ${port} PING 2>&1
echo '@@memory'; redis-cli -p ${port} INFO memory 2>&1
echo '@@clients'; redis-cli -p ${port} INFO clients 2>&1
echo '@@slowlog'; redis-cli -p ${port} SLOWLOG LEN 2>&1`,
    { stdin: `${password ?? ''}\n`, okCodes: [44] },
  );
  if (code === 44)
    return { reachable: false, error: 'not checked: redis-cli is not installed on the host', slowlog: [] };
  const part = (name: string) =>
    (stdout.split(`@@${name}\n`)[1] ?? '').split('\n@@')[0]?.replace(/\r/g, '') ?? '';
  const ping = part('ping').trim();
  if (ping !== 'PONG')
    return { reachable: false, error: `not reachable: ${ping.split('\n')[0] || 'no answer'}`, slowlog: [] };
  const used = infoField(part('memory'), 'used_memory');
  const max = infoField(part('memory'), 'maxmemory');
  const clients = infoField(part('clients'), 'connected_clients');
  const blocked = infoField(part('clients'), 'blocked_clients');
  const slow = Number(/\d+/.exec(part('slowlog'))?.[0] ?? 0);
  return {
    reachable: true,
    latencyMs: Math.round(performance.now() - started),
    ...(used !== undefined ? { usedMemoryBytes: used } : {}),
    ...(max ? { maxMemoryBytes: max } : {}),
    ...(clients !== undefined ? { connectedClients: clients } : {}),
    ...(blocked !== undefined ? { blockedClients: blocked } : {}),
    // redis-cli's text form of SLOWLOG GET is not worth parsing: its length says whether to look.
    slowlog: Array.from({ length: Math.min(slow, 5) }, (_, i) => ({
      id: i,
      at: '',
      durationMicros: 0,
      command: '(see SLOWLOG GET on the host)',
    })),
  };
}
