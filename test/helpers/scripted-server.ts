/**
 * A real HTTP server in the test process that answers from a script, one entry per request, and
 * counts what it was asked: for the verify loop's logic and for proving that bad inputs send nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedAnswer {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface ScriptedServer {
  url: string;
  requests: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

export async function startScriptedServer(
  script: ScriptedAnswer[] | ((n: number) => ScriptedAnswer),
  /** 0: any free port. */
  port = 0,
): Promise<ScriptedServer> {
  const requests: http.IncomingHttpHeaders[] = [];
  const answer = (n: number): ScriptedAnswer =>
    typeof script === 'function' ? script(n) : (script[Math.min(n, script.length - 1)] ?? { status: 200 });
  const server = http.createServer((req, res) => {
    const a = answer(requests.length);
    requests.push(req.headers);
    const text = typeof a.body === 'string' ? a.body : JSON.stringify(a.body ?? { status: 'healthy' });
    setTimeout(() => {
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
      res.end(text);
    }, a.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
