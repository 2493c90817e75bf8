/**
 * An nginx of the sandbox's own in front of a host's app: `nginx` from apt, started inside the host's
 * mount namespace (so it sees the host's paths, as the real one sees the droplet's), on a free port,
 * its prefix, config and pid file under the host's root — never the system service. The action
 * reaches it with the test and reload commands below; the tests stop it by pid.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { DeployHost } from './deploy-host.js';
import { freePort, waitForPort } from './net.js';
import { ProcessTracker } from './processes.js';
import { ensureSystemPackages } from './system.js';

export interface SandboxNginx {
  port: number;
  /** http://127.0.0.1:port */
  url: string;
  /** The site's config file (host path): what maintenance-setup includes its snippet into. */
  site: string;
  /** The host path where snippets go. */
  snippets: string;
  testCommand: string;
  reloadCommand: string;
  stop(): Promise<void>;
}

export async function startHostNginx(h: DeployHost): Promise<SandboxNginx> {
  ensureSystemPackages(['nginx', 'util-linux']);
  const prefix = `${h.droplet.hostRoot}/etc/nginx-sandbox`;
  const real = (path: string) => h.droplet.realPath(path);
  for (const dir of ['logs', 'sites', 'snippets', 'tmp'])
    mkdirSync(real(`${prefix}/${dir}`), { recursive: true });
  const port = await freePort();
  const conf = `${prefix}/nginx.conf`;
  writeFileSync(
    real(conf),
    `# sandbox nginx: the droplet's, in miniature
${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
error_log ${prefix}/logs/error.log;
pid ${prefix}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  include ${prefix}/sites/*.conf;
}
`,
  );
  const site = `${prefix}/sites/bunty-api.conf`;
  writeFileSync(
    real(site),
    `server {
    listen 127.0.0.1:${port};
    server_name api.bunty.example;

    location / {
        proxy_pass http://127.0.0.1:${h.port};
    }
}
`,
  );
  const tracker = new ProcessTracker();
  const sshdPid = h.droplet.sshd?.pid;
  if (!sshdPid) throw new Error('sandbox: the host has no sshd');
  // nsenter -m execs nginx in the host's mount namespace: the pid tracked is nginx's master.
  const child = tracker.spawn('nginx', 'nsenter', [
    '-t',
    String(sshdPid),
    '-m',
    '--',
    'nginx',
    '-p',
    prefix,
    '-c',
    conf,
    '-g',
    'daemon off;',
  ]);
  await waitForPort(port, 10_000, 'nginx', child);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    site,
    snippets: `${prefix}/snippets`,
    testCommand: `nginx -p ${prefix} -c ${conf} -t`,
    reloadCommand: `nginx -p ${prefix} -c ${conf} -s reload`,
    stop: () => tracker.stopAll(),
  };
}
