/**
 * The release store on one host, read and changed over one SSH session. Each operation is one
 * remote command (a round trip costs ~90 ms), built with the quoting `sh` template only.
 */
import type { SshSession } from '../ssh/session.js';
import { allOf, sh } from '../ssh/shell.js';
import { appPaths, isReleaseId, releaseDir, type AppPaths } from './layout.js';

export interface ReleaseInfo {
  id: string;
  bad: boolean;
  sha?: string;
}

export interface HostState {
  /** `releases`: the layout above; `legacy`: code directly in app-dir; `empty`: nothing deployed yet. */
  layout: 'releases' | 'legacy' | 'empty';
  current?: string;
  /** Oldest first (ids start with their UTC time). */
  releases: ReleaseInfo[];
}

export interface ReleaseLogEntry {
  time: string;
  host: string;
  release: string;
  sha?: string;
  outcome: 'deployed' | 'rolled-back' | 'failed' | 'rollback' | 'abandoned' | 'migrated';
  from?: string;
  actor?: string;
  runUrl?: string;
  reason?: string;
}

export interface PrepareOptions {
  id: string;
  sha: string;
  /** Local tarball of the release's files. */
  tarball: string;
  linkedFiles: string[];
  linkedDirs: string[];
}

export class ReleaseStore {
  readonly paths: AppPaths;

  constructor(
    private readonly session: SshSession,
    appDir: string,
  ) {
    this.paths = appPaths(appDir);
  }

  get host(): string {
    return this.session.name;
  }

  async state(): Promise<HostState> {
    const { stdout } = await this.session.run(
      'read releases',
      sh`cd -- ${this.paths.root} 2>/dev/null || { echo absent; exit 0; }
if [ -d releases ] || [ -L current ]; then echo layout releases; elif [ -n "$(ls -A . 2>/dev/null | grep -vxE 'shared|\\.runbook')" ]; then echo layout legacy; fi
printf 'current\\t%s\\n' "$(readlink current 2>/dev/null || true)"
for d in releases/*/; do
  [ -d "$d" ] || continue
  n=$(basename "$d")
  if [ -e "releases/$n/BAD_RELEASE" ]; then b=bad; else b=ok; fi
  printf 'release\\t%s\\t%s\\t%s\\n' "$n" "$b" "$(head -c 64 "releases/$n/REVISION" 2>/dev/null | tr -d '\\n\\t')"
done`,
    );
    return parseState(stdout);
  }

  /** Creates the release directory from the tarball, writes REVISION and links the shared files. */
  async prepare(options: PrepareOptions): Promise<string> {
    const dir = releaseDir(this.paths, options.id);
    const upload = `${this.paths.meta}/upload-${options.id}.tar.gz`;
    await this.session.run(
      'create release directory',
      sh`mkdir -p -- ${dir} ${this.paths.shared} ${this.paths.meta}`,
    );
    await this.session.upload('upload release', options.tarball, upload);
    const links = [
      ...options.linkedDirs.map((path) => sh`mkdir -p -- ${`${this.paths.shared}/${path}`}`),
      ...options.linkedFiles.map(
        (path) =>
          sh`mkdir -p -- "$(dirname -- ${`${this.paths.shared}/${path}`})" && touch -- ${`${this.paths.shared}/${path}`}`,
      ),
      ...[...options.linkedDirs, ...options.linkedFiles].map(
        (path) =>
          sh`rm -rf -- ${`${dir}/${path}`} && mkdir -p -- "$(dirname -- ${`${dir}/${path}`})" && ln -s -- ${`${this.paths.shared}/${path}`} ${`${dir}/${path}`}`,
      ),
    ];
    await this.session.run(
      'unpack release',
      sh`tar -xzf ${upload} -C ${dir} && rm -f -- ${upload} && printf '%s\\n' ${options.sha} > ${`${dir}/REVISION`} && ${allOf(...links)}`,
    );
    return dir;
  }

  /** Points `current` at the release by renaming a new symlink over it: atomic, never absent. */
  async switchTo(id: string): Promise<void> {
    await this.session.run(
      'switch current',
      sh`cd -- ${this.paths.root} && test -d ${`releases/${id}`} && ln -sfn -- ${`releases/${id}`} current.next && mv -Tf -- current.next current`,
    );
  }

  async markBad(id: string, reason: string, actor?: string): Promise<void> {
    const note = JSON.stringify({ time: new Date().toISOString(), reason, actor });
    await this.session.run(
      'mark release bad',
      sh`printf '%s\\n' ${note} > ${`${releaseDir(this.paths, id)}/BAD_RELEASE`}`,
    );
  }

  async log(entry: ReleaseLogEntry): Promise<void> {
    await this.session.run(
      'write release log',
      sh`mkdir -p -- ${this.paths.meta} && printf '%s\\n' ${JSON.stringify(entry)} >> ${this.paths.log}`,
    );
  }

  /** Deletes releases beyond the newest `keep`, never the current one or `protect`ed ones. */
  async prune(state: HostState, keep: number, protect: string[]): Promise<string[]> {
    const doomed = releasesToPrune(state, keep, protect);
    if (doomed.length > 0) {
      await this.session.run('remove old releases', sh`cd -- ${this.paths.releases} && rm -rf -- ${doomed}`);
    }
    return doomed;
  }
}

export function parseState(stdout: string): HostState {
  const state: HostState = { layout: 'empty', releases: [] };
  for (const line of stdout.split('\n')) {
    const [kind, ...fields] = line.split('\t');
    if (line === 'layout releases') state.layout = 'releases';
    else if (line === 'layout legacy') state.layout = 'legacy';
    else if (kind === 'current') {
      const id = (fields[0] ?? '').replace(/^releases\//, '').replace(/\/$/, '');
      if (isReleaseId(id)) state.current = id;
    } else if (kind === 'release' && isReleaseId(fields[0] ?? '')) {
      state.releases.push({
        id: fields[0] as string,
        bad: fields[1] === 'bad',
        ...(fields[2] ? { sha: fields[2] } : {}),
      });
    }
  }
  state.releases.sort((a, b) => a.id.localeCompare(b.id));
  return state;
}

/** The newest release older than `from` (default: current) that is not marked bad. */
export function previousGood(state: HostState, from = state.current): ReleaseInfo | undefined {
  return [...state.releases]
    .reverse()
    .find((release) => release.id !== from && !release.bad && (from === undefined || release.id < from));
}

/**
 * Releases beyond the newest `keep`, sparing the current one and the protected (the previous good
 * one). Bad releases are kept while they are among the newest `keep`, for forensics.
 */
export function releasesToPrune(state: HostState, keep: number, protect: string[]): string[] {
  const newest = state.releases.slice(-keep).map((r) => r.id);
  return state.releases
    .map((r) => r.id)
    .filter((id) => !newest.includes(id) && id !== state.current && !protect.includes(id));
}
