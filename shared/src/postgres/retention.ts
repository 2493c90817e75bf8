/**
 * Retention where we write: the newest `keepLast` backups, the newest backup of each of the last `keepDaily` days and of each of the
 * last `keepWeekly` ISO weeks stay, and so do the newest verified backup and the one just written,
 * whatever the numbers say. Only our own backups (our name pattern, with a manifest) are ever
 * considered. Planning is pure so that the plan can be printed before anything is removed.
 */
export interface RetentionPolicy {
  /** The newest N, whatever their days (several backups a day: before each deploy's migration). */
  keepLast: number;
  keepDaily: number;
  keepWeekly: number;
}

export interface BackupEntry {
  file: string;
  time: Date;
  verified: boolean;
}

export interface RetentionPlan {
  keep: { file: string; why: string[] }[];
  remove: BackupEntry[];
}

export function retentionEnabled(policy: RetentionPolicy): boolean {
  return policy.keepLast > 0 || policy.keepDaily > 0 || policy.keepWeekly > 0;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `<name>-20261130T020000Z[-2].dump|.dump.zst|.dir|.sql.gz` → its time; anything else is not ours. */
export function backupTime(name: string, file: string): Date | undefined {
  const match = new RegExp(
    `^${escapeRegExp(name)}-(\\d{8})T(\\d{6})Z(?:-\\d+)?(?:\\.dump|\\.dump\\.zst|\\.dir|\\.sql\\.gz)$`,
  ).exec(file);
  if (!match) return undefined;
  const [d, t] = [match[1] as string, match[2] as string];
  const time = new Date(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4)}Z`,
  );
  return Number.isNaN(time.getTime()) ? undefined : time;
}

function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export function planRetention(
  entries: BackupEntry[],
  policy: RetentionPolicy,
  protect: string[] = [],
): RetentionPlan {
  const newestFirst = [...entries].sort(
    (a, b) => b.time.getTime() - a.time.getTime() || b.file.localeCompare(a.file),
  );
  const reasons = new Map<string, string[]>();
  const because = (file: string, why: string) => reasons.set(file, [...(reasons.get(file) ?? []), why]);
  if (!retentionEnabled(policy)) {
    return { keep: newestFirst.map((e) => ({ file: e.file, why: ['retention off'] })), remove: [] };
  }
  const days = new Set<string>();
  const weeks = new Set<string>();
  newestFirst.slice(0, policy.keepLast).forEach((entry, i) => because(entry.file, `last ${i + 1}`));
  for (const entry of newestFirst) {
    const day = entry.time.toISOString().slice(0, 10);
    if (!days.has(day) && days.size < policy.keepDaily) {
      days.add(day);
      because(entry.file, `daily ${day}`);
    }
    const week = isoWeek(entry.time);
    if (!weeks.has(week) && weeks.size < policy.keepWeekly) {
      weeks.add(week);
      because(entry.file, `weekly ${week}`);
    }
  }
  const newestVerified = newestFirst.find((e) => e.verified);
  if (newestVerified) because(newestVerified.file, 'newest verified');
  for (const file of protect) if (newestFirst.some((e) => e.file === file)) because(file, 'just written');
  return {
    keep: newestFirst
      .filter((e) => reasons.has(e.file))
      .map((e) => ({ file: e.file, why: reasons.get(e.file) ?? [] })),
    remove: newestFirst.filter((e) => !reasons.has(e.file)),
  };
}

export function describePlan(where: string, plan: RetentionPlan): string[] {
  return [
    `retention in ${where}: keep ${plan.keep.length}, remove ${plan.remove.length}`,
    ...plan.keep.map((k) => `  keep   ${k.file} (${k.why.join(', ')})`),
    ...plan.remove.map((r) => `  remove ${r.file}${r.verified ? '' : ' (never verified)'}`),
  ];
}
