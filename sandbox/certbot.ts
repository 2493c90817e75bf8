/**
 * A certificate lineage that the real certbot manages, inside a host's root: archive/, live/ links,
 * renewal/<name>.conf — with a self-signed certificate (no ACME server here), so `certbot
 * certificates` lists it and `certbot renew` finds it not yet due. The command points certbot at it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import type { DeployHost } from './deploy-host.js';
import { ensureSystemPackages } from './system.js';

export function certbotLineage(
  h: DeployHost,
  name: string,
  domains: string[],
  days: number,
  /** Separate configurations keep certbot renew from trying every lineage. */
  tag = 'sandbox',
): { command: string } {
  ensureSystemPackages(['certbot', 'openssl']);
  const base = `${h.droplet.hostRoot}/etc/letsencrypt-${tag}`;
  const real = (path: string) => h.droplet.realPath(path);
  const archive = `${base}/config/archive/${name}`;
  const live = `${base}/config/live/${name}`;
  for (const dir of [archive, live, `${base}/config/renewal`, `${base}/work`, `${base}/logs`])
    mkdirSync(real(dir), { recursive: true });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      real(`${archive}/privkey1.pem`),
      '-out',
      real(`${archive}/cert1.pem`),
      '-days',
      String(days),
      '-subj',
      `/CN=${domains[0]}`,
      '-addext',
      `subjectAltName=${domains.map((d) => `DNS:${d}`).join(',')}`,
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(real(`${archive}/cert1.pem`), 'utf8');
  writeFileSync(real(`${archive}/chain1.pem`), cert);
  writeFileSync(real(`${archive}/fullchain1.pem`), cert + cert);
  for (const f of ['cert', 'privkey', 'chain', 'fullchain'])
    symlinkSync(`../../archive/${name}/${f}1.pem`, real(`${live}/${f}.pem`));
  writeFileSync(
    real(`${base}/config/renewal/${name}.conf`),
    `version = 2.1.0
archive_dir = ${archive}
cert = ${live}/cert.pem
privkey = ${live}/privkey.pem
chain = ${live}/chain.pem
fullchain = ${live}/fullchain.pem

[renewalparams]
authenticator = standalone
server = https://acme-v02.api.letsencrypt.org/directory
`,
  );
  return { command: `certbot --config-dir ${base}/config --work-dir ${base}/work --logs-dir ${base}/logs` };
}
