/**
 * A disposable "droplet" on this machine: the directory tree of the real one in a temp dir, pm2
 * with its own PM2_HOME, the sample app, and on request a PostgreSQL cluster and an sshd. Tests,
 * the drill and the benchmarks all start it the same way and stop it by pid.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitForPort } from './net.js';
import { SandboxPm2 } from './pm2.js';
import { startPostgres, type SandboxPostgres } from './postgres.js';
import { ProcessTracker } from './processes.js';
import { HOST_VIEW, startSshd, type SandboxSshd } from './sshd.js';
import { makeSelfSignedCertificate, type SandboxCertificate } from './tls.js';

const SAMPLE_APP = join(dirname(fileURLToPath(import.meta.url)), 'app', 'server.cjs');

export type SampleMode =
  | 'healthy'
  | 'unavailable'
  | 'unhealthy'
  | 'disconnected'
  | 'slow'
  | 'crash-at-start'
  | 'crash-loop'
  | 'no-listen';

export interface DropletOptions {
  postgres?: boolean;
  sshd?: boolean;
  /** The Node its commands find first (default this machine's own): a droplet on another Node major. */
  node?: string;
  /** Environment of every command run over its sshd (and so of what pm2 starts), beside pm2's. */
  env?: Record<string, string>;
}

/** unshare(1) with mount namespaces needs root; elsewhere the host sees the real paths. */
const canNamespace = process.getuid?.() === 0;

export interface AppOptions {
  name?: string;
  releaseId?: string;
  mode?: SampleMode;
  /** Serve https with a fresh self-signed certificate valid this many days. */
  tlsDays?: number;
  env?: Record<string, string>;
}

export interface SampleApp {
  name: string;
  port: number;
  /** http(s)://127.0.0.1:port */
  baseUrl: string;
  healthUrl: string;
  dir: string;
  certificate?: SandboxCertificate;
}

export interface Behaviour {
  mode?: SampleMode;
  /** Modes served one /health request at a time; the last repeats unless `cycle`. */
  sequence?: SampleMode[];
  cycle?: boolean;
  slowMs?: number;
}

export class Droplet {
  readonly tracker = new ProcessTracker();
  readonly pm2: SandboxPm2;
  postgres?: SandboxPostgres;
  sshd?: SandboxSshd;
  private stopped = false;

  private constructor(
    readonly root: string,
    node?: string,
  ) {
    this.pm2 = new SandboxPm2(join(root, 'pm2'), this.tracker, node);
  }

  /** The droplet's root as commands over its sshd see it (the same for every droplet when namespaced). */
  get hostRoot(): string {
    return this.sshd && canNamespace ? HOST_VIEW : this.root;
  }

  /** The real path on this machine of a path as the host sees it. */
  realPath(hostPath: string): string {
    return hostPath.startsWith(`${this.hostRoot}/`)
      ? join(this.root, hostPath.slice(this.hostRoot.length + 1))
      : hostPath;
  }

  /** Where the runbook keeps the app: <root>/var/www. */
  get wwwDir(): string {
    return join(this.root, 'var', 'www');
  }

  static async start(options: DropletOptions = {}): Promise<Droplet> {
    const root = mkdtempSync(join(tmpdir(), 'runbook-droplet-'));
    // The postgres OS user must be able to reach its directories below the temp dir.
    chmodSync(root, 0o755);
    const droplet = new Droplet(root, options.node);
    try {
      mkdirSync(droplet.wwwDir, { recursive: true });
      mkdirSync(droplet.pm2.home, { recursive: true });
      const [postgres, sshd] = await Promise.all([
        options.postgres ? startPostgres(root, droplet.tracker) : undefined,
        options.sshd
          ? startSshd(root, droplet.tracker, { ...droplet.pm2.env, ...options.env }, canNamespace)
          : undefined,
      ]);
      droplet.postgres = postgres;
      droplet.sshd = sshd;
      return droplet;
    } catch (error) {
      await droplet.stop().catch(() => undefined);
      throw error;
    }
  }

  /** Starts the sample app under pm2 in <root>/var/www/<name> and waits until it listens. */
  async startApp(options: AppOptions = {}): Promise<SampleApp> {
    const name = options.name ?? 'bunty-backend';
    const dir = join(this.wwwDir, name);
    mkdirSync(dir, { recursive: true });
    copyFileSync(SAMPLE_APP, join(dir, 'server.cjs'));
    const port = await freePort();
    const certificate =
      options.tlsDays !== undefined
        ? makeSelfSignedCertificate(join(this.root, 'tls'), options.tlsDays)
        : undefined;
    const env: Record<string, string> = {
      PORT: String(port),
      HOST: '127.0.0.1',
      RELEASE_ID: options.releaseId ?? 'release-1',
      SAMPLE_MODE: options.mode ?? 'healthy',
      ...(certificate ? { TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile } : {}),
      ...options.env,
    };
    await this.pm2.command(
      [
        'start',
        join(dir, 'server.cjs'),
        '--name',
        name,
        '--cwd',
        dir,
        '--update-env',
        '--kill-timeout',
        '5000',
      ],
      env,
    );
    if (options.mode !== 'crash-at-start') await waitForPort(port, 10_000, `sample app ${name}`);
    const baseUrl = `${certificate ? 'https' : 'http'}://127.0.0.1:${port}`;
    return {
      name,
      port,
      baseUrl,
      healthUrl: `${baseUrl}/health`,
      dir,
      ...(certificate ? { certificate } : {}),
    };
  }

  /** Changes how a running sample app answers /health. */
  async setBehaviour(app: SampleApp, behaviour: Behaviour): Promise<void> {
    const response = await fetch(`http://127.0.0.1:${app.port}/__sandbox/behaviour`, {
      method: 'POST',
      body: JSON.stringify(behaviour),
    });
    if (!response.ok)
      throw new Error(`sandbox: behaviour change refused: ${response.status} ${await response.text()}`);
  }

  /** Stops every process by pid (failing if one survives) and removes the tree. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      // pm2 may have been started over SSH by the code under test, not by us: stop it all the same.
      await this.pm2.kill();
      await this.tracker.stopAll();
    } finally {
      rmSync(this.root, { recursive: true, force: true });
    }
  }
}
