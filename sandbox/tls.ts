/** Self-signed certificates for the sandbox's https app, made at run time with openssl. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSystemPackages } from './system.js';

export interface SandboxCertificate {
  certFile: string;
  keyFile: string;
  /** The certificate (PEM), to trust as its own CA. */
  pem: string;
}

export function makeSelfSignedCertificate(dir: string, days: number): SandboxCertificate {
  ensureSystemPackages(['openssl']);
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, `cert-${days}d.pem`);
  const keyFile = join(dir, `key-${days}d.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      String(days),
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'pipe' },
  );
  return { certFile, keyFile, pem: readFileSync(certFile, 'utf8') };
}
