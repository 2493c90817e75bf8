/**
 * What the runbook's P0/P1/P2 sections have an engineer type on a droplet — `pm2 status`, `pm2 logs
 * --err`, `top`, `free`, `df`, `netstat` — read in one SSH command, parsed here. Read-only. pm2's
 * process list carries every app's whole environment (pm2#5190), so it is filtered on the host by a
 * few lines of node (pm2 needs node, so it is there): only status, restarts, uptime, memory, cpu and
 * log paths leave the host; env values are never read.
 */
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';

export interface AppFacts {
  name: string;
  pmId: number;
  status: string;
  restarts: number;
  unstableRestarts: number;
  /** Milliseconds since the current process started; undefined when not running. */
  uptimeMs?: number;
  memoryBytes: number;
  cpuPercent: number;
  execMode: string;
  errLog?: string;
  outLog?: string;
  /** The running process's pid, and pm2's pid file for it (pm_pid_path). */
  pid?: number;
  pidFile?: string;
  /** Restarts between two readings a crash window apart (read only when the app had just started). */
  restartsInWindow?: number;
}

export interface DiskFacts {
  mount: string;
  usedPercent: number;
  availableKb: number;
}

export interface HostFacts {
  apps: AppFacts[];
  /** pm2 could not be asked (not installed, daemon not running for this user). */
  pm2Error?: string;
  load: [number, number, number];
  cpus: number;
  memory: { totalKb: number; availableKb: number; swapTotalKb: number; swapFreeKb: number };
  disks: DiskFacts[];
  topByMemory: { pid: number; rssKb: number; cpu: number; command: string }[];
  listening: string[];
  /** Every section's raw text, for the bundle (nothing in it is secret: env values never leave the host). */
  raw: Record<string, string>;
}

// Runs on the host: reads `pm2 jlist` from stdin, prints only the fields below.
const PM2_FILTER = `let t='';process.stdin.on('data',d=>t+=d).on('end',()=>{let a=[];const i=t.indexOf('[');try{a=JSON.parse(t.slice(i))}catch(e){}
const now=Date.now();console.log(JSON.stringify(a.map(p=>{const e=p.pm2_env||{},m=p.monit||{};return{name:p.name,pmId:p.pm_id,status:e.status,restarts:e.restart_time,unstableRestarts:e.unstable_restarts,uptimeMs:e.status==='online'&&e.pm_uptime?now-e.pm_uptime:undefined,memoryBytes:m.memory,cpuPercent:m.cpu,execMode:e.exec_mode,errLog:e.pm_err_log_path,outLog:e.pm_out_log_path,pid:p.pid,pidFile:e.pm_pid_path}})))})`;

export async function readHostFacts(session: SshSession): Promise<HostFacts> {
  const { stdout } = await session.run(
    'read pm2, load, memory, disk, processes and ports',
    sh`echo '@@pm2'
home=\${PM2_HOME:-$HOME/.pm2}
if [ -f "$home/pm2.pid" ] && kill -0 "$(cat "$home/pm2.pid")" 2>/dev/null; then
  { PM2_DISCRETE_MODE=true pm2 jlist 2>/dev/null || echo 'PM2-FAILED'; } | { node -e ${PM2_FILTER} 2>&1 || echo 'PM2-FAILED'; }
else
  echo "PM2-NOT-RUNNING $home"
fi
echo '@@loadavg'; cat /proc/loadavg
echo '@@nproc'; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN
echo '@@meminfo'; cat /proc/meminfo
echo '@@df'; df -P -k 2>/dev/null
echo '@@top'; ps -eo pid=,rss=,pcpu=,comm= --sort=-rss 2>/dev/null | head -n 10
echo '@@ports'; ss -ltnH 2>/dev/null || netstat -ltn 2>/dev/null || echo 'neither ss nor netstat'
exit 0`,
    { timeoutMs: 60_000 },
  );
  return parseHostFacts(stdout);
}

export function parseHostFacts(text: string): HostFacts {
  const raw: Record<string, string> = {};
  for (const part of text.split(/^@@/m).slice(1)) {
    const nl = part.indexOf('\n');
    raw[part.slice(0, nl === -1 ? undefined : nl).trim()] = nl === -1 ? '' : part.slice(nl + 1).trimEnd();
  }
  const facts: HostFacts = {
    apps: [],
    load: [0, 0, 0],
    cpus: 1,
    memory: { totalKb: 0, availableKb: 0, swapTotalKb: 0, swapFreeKb: 0 },
    disks: [],
    topByMemory: [],
    listening: [],
    raw,
  };
  const pm2 = raw.pm2 ?? '';
  try {
    const notRunning = /^PM2-NOT-RUNNING (.*)$/m.exec(pm2);
    // Asking pm2 would start its daemon: a change, which diagnose never makes.
    if (notRunning) throw new Error(`its daemon is not running (no live pid in ${notRunning[1]}/pm2.pid)`);
    if (pm2.includes('PM2-FAILED') || !pm2.trim().startsWith('[')) throw new Error(pm2.trim() || 'no output');
    facts.apps = (JSON.parse(pm2) as Partial<AppFacts>[]).map((a) => ({
      name: String(a.name ?? ''),
      pmId: Number(a.pmId ?? -1),
      status: String(a.status ?? 'unknown'),
      restarts: Number(a.restarts ?? 0),
      unstableRestarts: Number(a.unstableRestarts ?? 0),
      ...(typeof a.uptimeMs === 'number' ? { uptimeMs: a.uptimeMs } : {}),
      memoryBytes: Number(a.memoryBytes ?? 0),
      cpuPercent: Number(a.cpuPercent ?? 0),
      execMode: String(a.execMode ?? ''),
      ...(typeof a.errLog === 'string' ? { errLog: a.errLog } : {}),
      ...(typeof a.outLog === 'string' ? { outLog: a.outLog } : {}),
      ...(typeof a.pid === 'number' && a.pid > 0 ? { pid: a.pid } : {}),
      ...(typeof a.pidFile === 'string' ? { pidFile: a.pidFile } : {}),
    }));
  } catch (error) {
    facts.pm2Error = `pm2: ${error instanceof Error ? error.message.slice(0, 160) : 'could not be asked'}`;
  }
  const load = (raw.loadavg ?? '').split(/\s+/).slice(0, 3).map(Number);
  if (load.length === 3 && load.every(Number.isFinite)) facts.load = load as [number, number, number];
  facts.cpus = Math.max(1, Number((raw.nproc ?? '1').trim()) || 1);
  const mem = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(raw.meminfo ?? '')?.[1] ?? 0);
  facts.memory = {
    totalKb: mem('MemTotal'),
    availableKb: mem('MemAvailable') || mem('MemFree'),
    swapTotalKb: mem('SwapTotal'),
    swapFreeKb: mem('SwapFree'),
  };
  for (const line of (raw.df ?? '').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 6) continue;
    // Kernel and runtime mounts are not where an app runs out of space.
    if (/^\/(dev|run|sys|proc|snap)(\/|$)/.test(cols.slice(5).join(' '))) continue;
    facts.disks.push({
      mount: cols.slice(5).join(' '),
      usedPercent: Number((cols[4] ?? '0').replace('%', '')),
      availableKb: Number(cols[3]),
    });
  }
  for (const line of (raw.top ?? '').split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+([\d.]+)\s+(.+)$/.exec(line);
    if (m)
      facts.topByMemory.push({
        pid: Number(m[1]),
        rssKb: Number(m[2]),
        cpu: Number(m[3]),
        command: (m[4] as string).trim(),
      });
  }
  facts.listening = [
    ...new Set(
      (raw.ports ?? '')
        .split('\n')
        .map((line) => /\s(\S+:\d+)\s/.exec(` ${line} `)?.[1])
        .filter((p): p is string => p !== undefined),
    ),
  ];
  return facts;
}

/** The last `lines` lines of each log, read with tail (a log can be gigabytes). */
export async function readLogTails(
  session: SshSession,
  paths: string[],
  lines: number,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of [...new Set(paths)]) {
    const { stdout } = await session.run(
      'tail a pm2 log',
      sh`tail -n ${lines} -- ${path} 2>/dev/null; exit 0`,
    );
    out[path] = stdout;
  }
  return out;
}
