/**
 * One HTTP(S) GET with a hard time limit, a capped body, and the server certificate's expiry.
 * node:http rather than fetch: fetch hides the peer certificate and the socket-level error codes
 * that tell an on-call engineer whether nothing listens (ECONNREFUSED) or something hangs.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type http from 'node:http';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

export interface HttpGetRequest {
  url: URL;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Extra trusted CA certificates (PEM). */
  ca?: string;
  /** Opens the connection some other way than TCP from here (an SSH tunnel to a port on the host). */
  tunnel?: (host: string, port: number) => Promise<Duplex>;
  /** GET unless said (a smoke request may POST); a body is sent as JSON. */
  method?: string;
  body?: string;
}

export interface PeerCertificate {
  subject: string;
  validTo: Date;
}

export interface HttpGetResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  latencyMs: number;
  certificate?: PeerCertificate;
}

/** A request that got no HTTP answer. `code` is the socket/TLS error code or `TIMEOUT`. */
export class HttpGetError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly latencyMs: number,
  ) {
    super(message);
  }
}

const BODY_LIMIT = 256 * 1024;

export function httpGet(request: HttpGetRequest): Promise<HttpGetResponse> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const isHttps = request.url.protocol === 'https:';
  const options: https.RequestOptions = {
    method: request.method ?? 'GET',
    headers: {
      'user-agent': 'runbook-actions/health',
      accept: 'application/json, */*',
      ...(request.body !== undefined
        ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(request.body)) }
        : {}),
      ...request.headers,
    },
    // A fresh connection each time: a health probe must see what a new client sees.
    agent: false,
    ...(isHttps && request.ca ? { ca: request.ca } : {}),
    ...(request.tunnel
      ? {
          // The callback form: node:http waits for the tunnel to open (a Duplex is all it needs).
          createConnection: (_options: unknown, done: (error: Error | null, stream: Duplex) => void) => {
            const port = Number(request.url.port || (isHttps ? 443 : 80));
            (request.tunnel as NonNullable<HttpGetRequest['tunnel']>)(request.url.hostname, port).then(
              (stream) => done(null, stream),
              // node:http ignores the stream argument when an error is given.
              (error: Error) => done(error, undefined as unknown as Duplex),
            );
            return undefined;
          },
        }
      : {}),
  };
  return new Promise((resolve, reject) => {
    let certificate: PeerCertificate | undefined;
    let settled = false;
    const fail = (code: string, message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(new HttpGetError(code, message, elapsed()));
    };
    const req = (isHttps ? httpsRequest : httpRequest)(request.url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < BODY_LIMIT) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          statusCode: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).subarray(0, BODY_LIMIT).toString('utf8'),
          latencyMs: elapsed(),
          ...(certificate ? { certificate } : {}),
        });
      });
      res.on('error', (error: NodeJS.ErrnoException) =>
        fail(error.code ?? 'ERESPONSE', describeSocketError(error)),
      );
    });
    req.on('socket', (socket) => {
      if (!isHttps) return;
      socket.once('secureConnect', () => {
        const peer = (socket as TLSSocket).getPeerCertificate();
        if (peer && peer.valid_to) {
          certificate = { subject: String(peer.subject?.CN ?? ''), validTo: new Date(peer.valid_to) };
        }
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      fail(error.code ?? 'EREQUEST', describeSocketError(error)),
    );
    const timer = setTimeout(
      () => fail('TIMEOUT', `no complete answer within ${request.timeoutMs} ms (timeout)`),
      request.timeoutMs,
    );
    req.end(request.body);
  });
}

const EXPLANATIONS: Record<string, string> = {
  ECONNREFUSED:
    'connection refused: nothing listens on that port (is the app running? `pm2 status`, `pm2 logs`)',
  ECONNRESET: 'connection reset by the server (crashing or restarting app?)',
  ENOTFOUND: 'host name does not resolve',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'connection timed out',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate is self-signed and not trusted (give its CA in `tls-ca`)',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate chain ends in an untrusted self-signed CA (give it in `tls-ca`)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    'certificate cannot be verified: incomplete chain or unknown CA (give the CA in `tls-ca`)',
  CERT_HAS_EXPIRED: 'certificate has expired: renew it (certbot renew) and reload nginx',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not name this host',
};

function describeSocketError(error: NodeJS.ErrnoException): string {
  const code = error.code ?? '';
  return EXPLANATIONS[code]
    ? `${EXPLANATIONS[code]} [${code}]`
    : `${error.message}${code ? ` [${code}]` : ''}`;
}

/** TLS failures do not heal by waiting; retrying them only delays the report. */
export function isPermanentGetError(code: string): boolean {
  return [
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'CERT_HAS_EXPIRED',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'ENOTFOUND',
  ].includes(code);
}
