/**
 * Adding a host (action-deploy `join`, the core in shared/src/releases/join.ts), through the committed
 * bundle: a fresh sandbox droplet gets the fleet's live release and its shared .env host to host and
 * serves it healthy before it is called ready; refused with nothing changed on a Node major the fleet
 * does not run; a source whose sshd is killed mid-copy leaves nothing half-copied; a release that
 * cannot start there is taken out again. Real sshd, pm2 and the sample app on every host.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runActionBundle, type ActionRun } from '../../sandbox/index.js';
import {
  currentRelease,
  hostInputs,
  sampleArtifact,
  sha,
  startDeployHost,
  stopDeployHosts,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { runnerNode } from '../../sandbox/runner-node.js';

const SECRET = 'jwt-Zq8!fleet-secret-that-must-stay-on-hosts';
let fleet: DeployHost[] = [];
let fresh: DeployHost; // PORT in its environment: it can serve another host's .env on this machine
let otherNode: DeployHost; // its commands find the runner's Node 24, the fleet runs this machine's 20
let crashes: DeployHost; // only its own .env's PORT: given the fleet's, its app cannot listen
let all: DeployHost[] = [];

beforeAll(async () => {
  [fleet[0], fleet[1], fresh, otherNode, crashes] = await Promise.all([
    startDeployHost(),
    startDeployHost(),
    startDeployHost({ portInEnvironment: true }),
    startDeployHost({ portInEnvironment: true, node: runnerNode }),
    startDeployHost(),
  ]);
  fleet = fleet.slice(0, 2);
  all = [...fleet, fresh, otherNode, crashes];
  for (const h of fleet)
    appendFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), `JWT_SECRET=${SECRET}\n`);
  // A release of some size, so that a copy takes long enough to be cut.
  const artifact = sampleArtifact(fleet[0] as DeployHost, { sha: sha(1) });
  writeFileSync(join(artifact, 'bundle.bin'), Buffer.alloc(48 * 1024 * 1024, 7));
  const run = await runActionBundle(
    'action-deploy',
    { ...hostInputs(fleet), artifact, sha: sha(1), 'install-command': '', 'linked-files': '.env' },
    { secrets: secrets() },
  );
  if (run.exitCode !== 0) throw new Error(`fleet deploy failed: ${run.errors.join('\n')}`);
}, 180_000);
afterAll(() => stopDeployHosts(all));

function secrets(): string[] {
  return [SECRET, ...all.map((h) => h.droplet.sshd?.privateKey ?? '')];
}

/** Inputs reaching the fleet and the joining host with one key: its known-hosts line and health URL last. */
function joinRun(joiner: DeployHost, extra: Record<string, string> = {}): Promise<ActionRun> {
  const inputs = hostInputs([...fleet, joiner]);
  return runActionBundle(
    'action-deploy',
    {
      ...inputs,
      hosts: fleet.map((h) => h.host).join('\n'),
      join: joiner.host,
      'max-attempts': '20',
      ...extra,
    },
    { secrets: secrets(), timeoutMs: 90_000 },
  );
}

const envOf = (h: DeployHost) => readFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), 'utf8');
const releasesOf = (h: DeployHost) => h.droplet.realPath(`${h.appDir}/releases`);
const fleetServes = async () =>
  Promise.all(
    fleet.map(async (h) => ((await (await fetch(h.healthUrl)).json()) as { releaseId: string }).releaseId),
  );

describe('join', () => {
  it('refuses a host on another Node major, naming both, and changes nothing anywhere', async () => {
    const run = await joinRun(otherNode);
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/runs Node 24\.[\d.]+, the fleet \(.+\) Node 20\.[\d.]+/);
    expect(run.errors[0]).toContain(otherNode.host);
    expect(existsSync(releasesOf(otherNode))).toBe(false);
    expect(run.outputs.joined).toBe('');
    expect(await fleetServes()).toEqual([sha(1), sha(1)]);
  }, 120_000);

  it("the source's sshd killed mid-copy: the half-copied release is removed and the source is named", async () => {
    const source = fleet[0] as DeployHost;
    const running = joinRun(fresh);
    // Kill the source's sshd once the copy is under way (the release directory appears on the new host).
    for (const until = Date.now() + 60_000; !existsSync(join(releasesOf(fresh), currentRelease(source)));) {
      if (Date.now() > until) throw new Error('the copy never started');
      await new Promise((r) => setTimeout(r, 5));
    }
    source.droplet.sshd?.kill();
    await source.droplet.sshd?.restart(); // back at once: the run can still release its lock there
    const run = await running;
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toContain(source.host);
    expect(run.errors[0]).toMatch(/connection was lost/);
    expect(existsSync(join(releasesOf(fresh), currentRelease(source)))).toBe(false);
    expect(currentRelease(fresh)).toBe('');
    expect(await fleetServes()).toEqual([sha(1), sha(1)]);
    // The cut connection did not keep the source locked: the next run is not refused.
    expect(existsSync(source.droplet.realPath(`${source.appDir}/.runbook/deploy.lock`))).toBe(false);
  }, 120_000);

  it('copies the live release and .env host to host, proves it healthy, then says it is ready', async () => {
    const before = all.map((h) => h.droplet.sshd?.logins() ?? 0);
    const run = await joinRun(fresh);
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.outputs.joined).toBe(fresh.host);
    expect(currentRelease(fresh)).toBe(currentRelease(fleet[0] as DeployHost));
    expect(envOf(fresh)).toBe(envOf(fleet[0] as DeployHost));
    const body = (await (await fetch(fresh.healthUrl)).json()) as { releaseId: string };
    expect(body.releaseId).toBe(sha(1));
    expect(run.summary).toContain(`**${fresh.host} is ready**`);
    // One SSH connection to each host it touched.
    const logins = all.map((h, i) => (h.droplet.sshd?.logins() ?? 0) - (before[i] ?? 0));
    expect(logins.slice(0, 3)).toEqual([1, 1, 1]);
  }, 120_000);

  it('run again on a host that joined: proven again, nothing changed', async () => {
    const was = currentRelease(fresh);
    const run = await joinRun(fresh);
    expect(run.exitCode).toBe(0);
    expect(run.outputs.joined).toBe(fresh.host);
    expect(run.stdout).toContain('joined before');
    expect(currentRelease(fresh)).toBe(was);
  }, 120_000);

  it('the joined host is a member: the next deploy reaches it like the others', async () => {
    const members = [...fleet, fresh];
    const run = await runActionBundle(
      'action-deploy',
      {
        ...hostInputs(members),
        artifact: sampleArtifact(fleet[0] as DeployHost, { sha: sha(2) }),
        sha: sha(2),
        'install-command': '',
        'linked-files': '.env',
      },
      { secrets: secrets() },
    );
    expect(run.errors).toEqual([]);
    const served = await Promise.all(
      members.map(
        async (h) => ((await (await fetch(h.healthUrl)).json()) as { releaseId: string }).releaseId,
      ),
    );
    expect(served).toEqual([sha(2), sha(2), sha(2)]);
  }, 120_000);

  it('a release that cannot start on the new host: taken out again, not ready, the fleet untouched', async () => {
    const run = await joinRun(crashes, { 'max-attempts': '4', deadline: '4s' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/did not join.*NOT ready for the load balancer/s);
    expect(run.outputs.joined).toBe('');
    expect(run.summary).not.toContain('is ready');
    expect(currentRelease(crashes)).toBe('');
    expect(await crashes.droplet.pm2.command(['jlist'])).not.toContain('bunty-backend');
    expect(await fleetServes()).toEqual([sha(2), sha(2)]);
  }, 120_000);
});
