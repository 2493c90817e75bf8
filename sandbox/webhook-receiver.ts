/**
 * A local stand-in for a chat webhook (Slack's incoming webhooks, or any URL taking JSON): a real HTTP
 * server that keeps every POST it gets and checks it the way Slack's incoming webhooks document —
 * a JSON body with `text` (the fallback) and, when given, `blocks` of known types; anything else is
 * recorded as a violation. It can be told to answer 500 or to never answer (a hang) for the next requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedMessage {
  path: string;
  contentType: string;
  body: string;
  json?: Record<string, unknown>;
  at: number;
}

export type ReceiverFault = 500 | 'hang';

const BLOCK_TYPES = new Set(['section', 'context', 'header', 'divider', 'actions', 'image']);

export class WebhookReceiver {
  readonly messages: ReceivedMessage[] = [];
  readonly violations: string[] = [];
  private readonly faults: ReceiverFault[] = [];

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<WebhookReceiver> {
    const server = http.createServer();
    const receiver = new WebhookReceiver(server);
    server.on('request', (req, res) => receiver.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** `/services/…` as a Slack URL has it; the messages' `path` tells the receivers apart. */
  url(path = '/hooks/runbook'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  failNext(fault: ReceiverFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const message: ReceivedMessage = {
        path: req.url ?? '/',
        contentType: String(req.headers['content-type'] ?? ''),
        body,
        at: Date.now(),
      };
      if (req.method !== 'POST') this.violations.push(`${req.method} ${message.path}: webhooks take POST`);
      if (!message.contentType.startsWith('application/json'))
        this.violations.push(`${message.path}: content-type ${message.contentType}, not application/json`);
      try {
        message.json = JSON.parse(body) as Record<string, unknown>;
        this.checkSlackShape(message.json);
      } catch {
        this.violations.push(`${message.path}: the body is not JSON`);
      }
      this.messages.push(message);
      const fault = this.faults.shift();
      if (fault === 'hang') return;
      res.writeHead(fault ?? 200, { 'content-type': 'text/plain' });
      res.end(fault ? 'internal_error' : 'ok');
    });
  }

  /** Slack's incoming webhook payload: `text` a string; `blocks` a list of typed blocks, sections with text or ≤ 10 fields. */
  private checkSlackShape(json: Record<string, unknown>): void {
    if (!('blocks' in json)) return;
    if (typeof json.text !== 'string') this.violations.push('blocks without a `text` fallback');
    if (!Array.isArray(json.blocks)) return void this.violations.push('`blocks` is not a list');
    for (const block of json.blocks as Record<string, unknown>[]) {
      if (!BLOCK_TYPES.has(String(block.type)))
        this.violations.push(`unknown block type ${String(block.type)}`);
      if (block.type === 'section' && !block.text && !block.fields)
        this.violations.push('a section block without text or fields');
      if (Array.isArray(block.fields) && block.fields.length > 10)
        this.violations.push('a section block with more than 10 fields');
    }
  }
}
