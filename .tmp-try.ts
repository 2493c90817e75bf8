import { runActionBundle } from './sandbox/index.js';
import { startDeployHost, hostInputs, sampleArtifact, sha } from './test/helpers/deploy-fixture.js';
import { copyFileSync, mkdirSync, writeFileSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const h = await startDeployHost();
try {
  const hostile = `it's $(touch /tmp/cc) x`;
  const appDir = `${h.droplet.hostRoot}/var/www/${hostile}`;
  mkdirSync(h.droplet.realPath(`${appDir}/shared`), { recursive: true });
  writeFileSync(h.droplet.realPath(`${appDir}/shared/.env`), `PORT=${h.port}\n`);
  const artifact = sampleArtifact({ sha: sha(8) });
  const script = process.argv[2] ?? 'server.cjs';
  if (script !== 'server.cjs') copyFileSync(join(artifact, 'server.cjs'), join(artifact, script));
  const r = await runActionBundle('action-deploy', {
    ...hostInputs([h]),
    'install-command': '',
    artifact,
    sha: sha(8),
    'app-dir': appDir,
    'app-script': script,
    'max-attempts': '3',
  });
  console.log(r.exitCode, r.errors);
  const logs = h.droplet.realPath(`${h.droplet.root}/pm2/logs`);
  for (const f of readdirSync(join(h.droplet.root, 'pm2/logs')))
    console.log(f, readFileSync(join(h.droplet.root, 'pm2/logs', f), 'utf8').slice(-600));
  console.log(
    JSON.stringify(
      (await h.droplet.pm2.list()).map((p) => [
        p.name,
        p.pm2_env.status,
        (p.pm2_env as any).pm_exec_path,
        (p.pm2_env as any).pm_cwd,
      ]),
    ),
  );
} finally {
  await h.droplet.stop();
}
