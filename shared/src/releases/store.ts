/**
 * The release store on one host, read and changed over one SSH session. Each operation is one
 * remote command (a round trip costs ~90 ms), built with the quoting `sh` template only.
 *
 * What a release has been is read from the release log, not from the directory listing: only a
 * release that once served and was verified is a rollback target, and a bad mark lives in the log
 * too, so it survives the release's directory being deleted by hand or by a full-disk cleanup.
 */
import { OperationError } from '../errors.js';
import type { SshSession } from '../ssh/session.js';
import { allOf, sh, type ShellCommand } from '../ssh/shell.js';
import { appPaths, isReleaseId, releaseDir, type AppPaths } from './layout.js';
import { discardPartial } from './disk.js';
import { discoverEntry, type AppEntry, type RecordedEntry } from './entry.js';

export interface ReleaseInfo {
  id: string;
  bad: boolean;
  sha?: string;
  /** Once current and verified healthy (or found serving before this suite first deployed here). */
  live: boolean;
  /** Named in the release log at all: a release we have no record of is not vouched for either way. */
  known: boolean;
  /** The entry it was last started with, as the release log recorded it. */
  entry?: RecordedEntry;
}

export interface HostState {
  /** `releases`: the layout above; `legacy`: code directly in app-dir; `empty`: nothing deployed yet. */
  layout: 'releases' | 'legacy' | 'empty';
  current?: string;
  /** `current` points at a release whose directory is gone (deleted by hand, a disk cleanup). */
  currentMissing: boolean;
  /** Oldest first (ids start with their UTC time). */
  releases: ReleaseInfo[];
  /** releases/, shared/ or .runbook/ that are symbolic links, with their targets: refused. */
  symlinks: { name: string; target: string }[];
  /** Free bytes on the file system that holds app-dir (or its nearest existing parent). */
  freeBytes?: number;
  /** What the release log says of each release present (or current with its directory gone). */
  history: Map<string, ReleaseHistory>;
  /** The log lines of the releases present and of current, oldest first. */
  log: ReleaseLogEntry[];
}

export type LogOutcome =
  | 'preparing'
  | 'switched'
  | 'deployed'
  | 'rolled-back'
  | 'failed'
  | 'rollback'
  | 'abandoned'
  | 'bad'
  | 'migrated';

export interface ReleaseLogEntry {
  time: string;
  host: string;
  release: string;
  sha?: string;
  outcome: LogOutcome;
  from?: string;
  /** For `rollback`: whether the target was proven healthy. */
  verified?: boolean;
  actor?: string;
  runUrl?: string;
  reason?: string;
  /** The entry pm2 starts the release with (recorded at the switch). */
  entry?: RecordedEntry;
  /** traffic: nginx: the slot and port nginx was pointed at. */
  slot?: string;
  port?: number;
  /** Migration files applied for this release: a rollback to an older release goes past them. */
  migrations?: string[];
}

export interface ReleaseHistory {
  live: boolean;
  bad: boolean;
  known: boolean;
  /** Only ever seen as the release a run started from: it was serving before we arrived. */
  adopted: boolean;
  entry?: RecordedEntry;
  /** The migrations applied for it (its log lines' `migrations`). */
  migrations: string[];
}

export interface PrepareOptions {
  id: string;
  sha: string;
  /** Local tarball of the release's files. */
  tarball: string;
  linkedFiles: string[];
  linkedDirs: string[];
  /** The pm2 app: its entry is app-script when given, else found in the release (entry.ts). */
  appName: string;
  script?: string;
  migrations?: string[];
}

const VERIFIED: readonly LogOutcome[] = ['deployed', 'rolled-back', 'migrated'];
const MARKED_BAD: readonly LogOutcome[] = ['bad', 'abandoned', 'failed'];

/** What the release log says of each release it names. */
export function readHistory(entries: ReleaseLogEntry[]): Map<string, ReleaseHistory> {
  const history = new Map<string, ReleaseHistory>();
  const of = (id: string) => {
    let h = history.get(id);
    if (!h) history.set(id, (h = { live: false, bad: false, known: true, adopted: false, migrations: [] }));
    return h;
  };
  const named = new Set(entries.map((e) => e.release));
  for (const entry of entries) {
    const h = of(entry.release);
    if (VERIFIED.includes(entry.outcome) || (entry.outcome === 'rollback' && entry.verified === true))
      h.live = true;
    if (MARKED_BAD.includes(entry.outcome)) h.bad = true;
    if (entry.entry && typeof entry.entry.script === 'string') h.entry = entry.entry;
    for (const file of Array.isArray(entry.migrations) ? entry.migrations : [])
      if (typeof file === 'string' && !h.migrations.includes(file)) h.migrations.push(file);
    // A release a run started from, which no run of ours ever switched to: it served before we came.
    if (entry.from && isReleaseId(entry.from) && !named.has(entry.from)) {
      const from = of(entry.from);
      from.live = true;
      from.adopted = true;
    }
  }
  return history;
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
    const { stdout } = await this.session.run('read releases', stateCommand(this.paths));
    return parseState(stdout);
  }

  /**
   * Creates the release directory from the tarball, writes REVISION, links the shared files and
   * finds the entry point (entry.ts). On failure it removes what it made (a full disk must not stay
   * full) and says "disk full" when that is why.
   */
  async prepare(
    options: PrepareOptions,
    install?: (dir: string) => Promise<void>,
  ): Promise<{ dir: string; entry: AppEntry }> {
    const dir = releaseDir(this.paths, options.id);
    const upload = `${this.paths.meta}/upload-${options.id}.tar.gz`;
    const preparing: ReleaseLogEntry = {
      time: new Date().toISOString(),
      host: this.host,
      release: options.id,
      sha: options.sha,
      outcome: 'preparing',
      ...(options.migrations?.length ? { migrations: options.migrations } : {}),
    };
    await this.session.run(
      'create release directory',
      // Uploads left by a dead run are litter: we hold the lease, so nobody else is uploading.
      sh`rm -f -- ${this.paths.meta}/upload-*.tar.gz 2>/dev/null; mkdir -p -- ${dir} ${this.paths.shared} ${this.paths.meta} && printf '%s\\n' ${JSON.stringify(preparing)} >> ${this.paths.log}`,
    );
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
    try {
      await this.session.upload('upload release', options.tarball, upload);
      await this.session.run(
        'unpack release',
        sh`tar -xzf ${upload} -C ${dir} && rm -f -- ${upload} && printf '%s\\n' ${options.sha} > ${`${dir}/REVISION`} && ${allOf(...links)}`,
      );
      if (install) await install(dir);
      return { dir, entry: await discoverEntry(this.session, dir, options.appName, options.script) };
    } catch (error) {
      throw await discardPartial(this.session, this.paths.root, [dir, upload], error);
    }
  }

  /**
   * Points `current` at the release by renaming a new symlink over it: atomic, never absent. The
   * log line goes first, in the same command: a run killed right after the switch leaves a release
   * the log knows was switched to and never verified.
   */
  async switchTo(id: string, entry: ReleaseLogEntry, first?: ShellCommand): Promise<number | undefined> {
    const { stdout } = await this.session.run(
      'switch current',
      sh`${first ?? sh`true`} && cd -- ${this.paths.root} && test -d ${`releases/${id}`} && printf '%s\\n' ${JSON.stringify(entry)} >> ${this.paths.log} && ln -sfn -- ${`releases/${id}`} current.next && mv -Tf -- current.next current && date +%s%3N`,
    );
    // The host's clock at the switch: a process pm2 starts after it must have started later.
    return parseHostClock(stdout);
  }

  /** A failed first deploy leaves no `current` behind (only when it still points at `id`). */
  async unsetCurrent(id: string): Promise<void> {
    await this.session.run(
      'remove current',
      sh`cd -- ${this.paths.root} && if [ "$(readlink current)" = ${`releases/${id}`} ]; then rm -f -- current; fi`,
    );
  }

  /**
   * Marks a release bad in the release log (which outlives its directory) and, while its directory
   * exists, with a BAD_RELEASE file in it for whoever looks at the host.
   */
  async markBad(
    id: string,
    reason: string,
    actor?: string,
    outcome: 'bad' | 'abandoned' = 'bad',
  ): Promise<void> {
    await this.session.run('mark release bad', this.markBadCommand(id, reason, actor, outcome));
  }

  /** The command that marks a release bad: alone, or ahead of the switch in one round trip. */
  markBadCommand(
    id: string,
    reason: string,
    actor?: string,
    outcome: 'bad' | 'abandoned' = 'bad',
  ): ShellCommand {
    const time = new Date().toISOString();
    const note = JSON.stringify({ time, reason, actor });
    const entry: ReleaseLogEntry = {
      time,
      host: this.host,
      release: id,
      outcome,
      reason,
      ...(actor ? { actor } : {}),
    };
    const dir = releaseDir(this.paths, id);
    return sh`{ mkdir -p -- ${this.paths.meta} && printf '%s\\n' ${JSON.stringify(entry)} >> ${this.paths.log} && if [ -d ${dir} ] && [ ! -L ${dir} ]; then printf '%s\\n' ${note} > ${`${dir}/BAD_RELEASE`}; fi; }`;
  }

  async log(entry: ReleaseLogEntry): Promise<void> {
    await this.session.run(
      'write release log',
      sh`mkdir -p -- ${this.paths.meta} && printf '%s\\n' ${JSON.stringify(entry)} >> ${this.paths.log}`,
    );
  }

  /**
   * Deletes releases beyond the newest `keep`, never the current one or `protect`ed ones. Removes
   * only real directories inside <app-dir>/releases, checked on the host: never through a link.
   */
  async prune(state: HostState, keep: number, protect: string[]): Promise<string[]> {
    const doomed = releasesToPrune(state, keep, protect);
    if (doomed.length > 0) {
      await this.session.run(
        'remove old releases',
        sh`cd -P -- ${this.paths.root} && [ ! -L releases ] && cd -P releases && [ "$(pwd -P)" = "$(cd -P .. && pwd -P)/releases" ] && for id in ${doomed}; do if [ -d "$id" ] && [ ! -L "$id" ]; then rm -rf -- "./$id"; fi; done`,
      );
    }
    return doomed;
  }
}

/** The host's release state in one command (parseState reads it); read-only. */
export function stateCommand(paths: AppPaths): ShellCommand {
  // Shell built-ins wherever they do: every process forked here is paid on every host of every
  // run (about 1 ms each; one per release added up to a third of a rollback's time on the host).
  return sh`d=${paths.root}; while [ ! -d "$d" ]; do d=$(dirname -- "$d"); done
set -f; set -- $(df -Pk -- "$d" 2>/dev/null); set +f
printf 'free\\t%s\\n' "\${11:-}"
cd -- ${paths.root} 2>/dev/null || { echo absent; exit 0; }
for l in releases shared .runbook; do if [ -L "$l" ]; then printf 'symlink\\t%s\\t%s\\n' "$l" "$(readlink -- "$l")"; fi; done
if [ -d releases ] || [ -L current ]; then echo layout releases; elif [ -n "$(ls -A . 2>/dev/null | grep -vxE 'shared|\\.runbook')" ]; then echo layout legacy; fi
cur=$(readlink current 2>/dev/null || true)
printf 'current\\t%s\\n' "$cur"
if [ -L current ] && [ ! -d current/ ]; then echo current-missing; fi
c=\${cur%/}; c=\${c##*/}; set -- -e "\${c:-none}"
for d in releases/*/; do
  [ -d "$d" ] || continue
  n=\${d%/}; n=\${n#releases/}
  if [ -e "$d/BAD_RELEASE" ]; then b=bad; else b=ok; fi
  rev=; if [ -f "$d/REVISION" ]; then IFS= read -r rev < "$d/REVISION" || :; fi
  printf 'release\\t%s\\t%s\\t%s\\n' "$n" "$b" "$rev"
  set -- "$@" -e "$n"
done
if [ -f .runbook/releases.log ]; then
  echo log-lines; grep -F "$@" .runbook/releases.log
fi
exit 0`;
}

export function parseState(stdout: string): HostState {
  const state: HostState = {
    layout: 'empty',
    releases: [],
    currentMissing: false,
    symlinks: [],
    history: new Map(),
    log: [],
  };
  const entries: ReleaseLogEntry[] = [];
  const files: { id: string; bad: boolean; sha?: string }[] = [];
  let logLines = false;
  for (const line of stdout.split('\n')) {
    const [kind, ...fields] = line.split('\t');
    // After `log-lines`, every line is the release log's own (grep's output, as the host has it).
    if (logLines) {
      if (!line) continue;
      try {
        const entry = JSON.parse(line) as ReleaseLogEntry;
        if (typeof entry.release === 'string' && typeof entry.outcome === 'string') entries.push(entry);
      } catch {
        // A torn line (a write cut off by a full disk) says nothing.
      }
    } else if (line === 'log-lines') logLines = true;
    else if (line === 'layout releases') state.layout = 'releases';
    else if (line === 'layout legacy') state.layout = 'legacy';
    else if (line === 'current-missing') state.currentMissing = true;
    else if (kind === 'free' && /^\d+$/.test(fields[0] ?? '')) state.freeBytes = Number(fields[0]) * 1024;
    else if (kind === 'symlink') state.symlinks.push({ name: fields[0] ?? '', target: fields[1] ?? '' });
    else if (kind === 'current') {
      const id = (fields[0] ?? '').replace(/^releases\//, '').replace(/\/$/, '');
      if (isReleaseId(id)) state.current = id;
    } else if (kind === 'release' && isReleaseId(fields[0] ?? '')) {
      // REVISION's first line, as Capistrano writes it; at most 64 characters, tabs dropped.
      const sha = fields.slice(2).join('').trim().slice(0, 64);
      files.push({ id: fields[0] as string, bad: fields[1] === 'bad', ...(sha ? { sha } : {}) });
    }
  }
  state.history = readHistory(entries);
  state.log = entries;
  state.releases = files
    .map((file) => {
      const h = state.history.get(file.id);
      return {
        ...file,
        bad: file.bad || (h?.bad ?? false),
        live: h?.live ?? false,
        known: h?.known ?? false,
        ...(h?.entry ? { entry: h.entry } : {}),
      };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
  return state;
}

/** The newest release older than `from` (default: current) that once served verified and is not marked bad. */
export function previousGood(state: HostState, from = state.current): ReleaseInfo | undefined {
  return [...state.releases]
    .reverse()
    .find(
      (release) =>
        release.id !== from && release.live && !release.bad && (from === undefined || release.id < from),
    );
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

export function symlinkRefusal(host: string, appDir: string, state: HostState): OperationError | undefined {
  if (state.symlinks.length === 0) return undefined;
  const list = state.symlinks.map((l) => `${appDir}/${l.name} → ${l.target}`).join(', ');
  return new OperationError(
    `${host}: ${list} ${state.symlinks.length === 1 ? 'is a symbolic link' : 'are symbolic links'}; refusing to work through it, since switching and pruning must stay inside ${appDir}. Nothing was changed.`,
    `make ${state.symlinks.map((l) => l.name).join(', ')} real directories inside ${appDir} (move the contents in), or set app-dir to the directory that really holds them.`,
  );
}

/** The host's clock (`date +%s%3N`, ms) on the last line of a command's output; undefined if unreadable. */
export function parseHostClock(stdout: string): number | undefined {
  const ms = Number(stdout.trim().split('\n').pop());
  return Number.isSafeInteger(ms) && ms > 1e12 ? ms : undefined;
}
