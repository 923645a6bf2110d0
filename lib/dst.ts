/**
 * Daylight saving and cron: busybox crond (the restic sidecars' scheduler) matches each job
 * against the *local* time of every minute that passes — miscutils/crond.c (busybox 1_36_1),
 * flag_starting_jobs(): `for (t = t1 - t1 % 60; t <= t2; t += 60) { ptm = localtime(&t); ...
 * line->cl_Mins[ptm->tm_min] && line->cl_Hrs[ptm->tm_hour] ...`. The container's TZ is the
 * server's `timezone`, so a job whose local time falls in the hour the clocks skip never runs
 * that day, and one in the hour the clocks repeat runs twice.
 *
 * Pure: the transitions are found with Intl for the given years; no Pulumi.
 */

const FIELDS: readonly [number, number][] = [
  [0, 59], // minute
  [0, 23], // hour
  [1, 31], // day of month
  [1, 12], // month
  [0, 7], // day of week (0 and 7: Sunday)
];

function expand(field: string, [min, max]: [number, number]): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of field.split(",")) {
    const m = /^(\*|\d+(?:-\d+)?)(?:\/(\d+))?$/.exec(part);
    if (!m) return undefined;
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) return undefined;
    let lo: number;
    let hi: number;
    if (m[1] === "*") [lo, hi] = [min, max];
    else if (m[1]!.includes("-")) [lo, hi] = m[1]!.split("-").map(Number) as [number, number];
    else [lo, hi] = [Number(m[1]), m[2] === undefined ? Number(m[1]) : max];
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** A matcher of a 5-field cron expression on wall-clock fields, or undefined if not numeric cron. */
function cronMatcher(expr: string): ((wall: Date) => boolean) | undefined {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const sets = fields.map((f, i) => expand(f, FIELDS[i]!));
  if (sets.some((s) => !s)) return undefined;
  const [mins, hours, doms, months, dows] = sets as Set<number>[];
  if (dows!.has(7)) dows!.add(0);
  // Vixie cron and busybox (crond.c FixDayDow): with both day fields restricted, either matches.
  const domStar = fields[2] === "*";
  const dowStar = fields[4] === "*";
  return (w) => {
    const domOk = doms!.has(w.getUTCDate());
    const dowOk = dows!.has(w.getUTCDay());
    const dayOk = domStar || dowStar ? domOk && dowOk : domOk || dowOk;
    return (
      dayOk &&
      mins!.has(w.getUTCMinutes()) &&
      hours!.has(w.getUTCHours()) &&
      months!.has(w.getUTCMonth() + 1)
    );
  };
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** Minutes `timeZone` is ahead of UTC at instant `t` (ms). */
function offsetMinutes(timeZone: string, t: number): number {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    formats.set(timeZone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(t))) p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!);
  return Math.round((wall - (t - (t % 60_000))) / 60_000);
}

/** One clock change: local wall-clock minutes that are skipped (gap) or happen twice (overlap). */
export interface DstTransition {
  kind: "gap" | "overlap";
  /** The UTC instant of the change (ms). */
  at: number;
  /** The affected local wall-clock interval [start, end), as UTC-epoch ms of the wall time. */
  wallStart: number;
  wallEnd: number;
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

const transitions = new Map<string, DstTransition[]>();

/** The clock changes of `timeZone` in `year` (none for UTC); [] for an unknown time zone. */
export function dstTransitions(timeZone: string, year: number): DstTransition[] {
  const key = `${timeZone} ${year}`;
  const hit = transitions.get(key);
  if (hit) return hit;
  const found = findTransitions(timeZone, year);
  transitions.set(key, found);
  return found;
}

function findTransitions(timeZone: string, year: number): DstTransition[] {
  try {
    offsetMinutes(timeZone, 0);
  } catch {
    return [];
  }
  const out: DstTransition[] = [];
  const end = Date.UTC(year + 1, 0, 1);
  let prev = offsetMinutes(timeZone, Date.UTC(year, 0, 1));
  for (let t = Date.UTC(year, 0, 1) + HOUR; t <= end; t += HOUR) {
    const cur = offsetMinutes(timeZone, t);
    if (cur === prev) continue;
    // The first minute with the new offset, in (t - 1h, t].
    let lo = t - HOUR;
    let hi = t;
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if (offsetMinutes(timeZone, mid) === prev) lo = mid;
      else hi = mid;
    }
    const before = prev * MINUTE;
    const after = cur * MINUTE;
    out.push(
      after > before
        ? { kind: "gap", at: hi, wallStart: hi + before, wallEnd: hi + after }
        : { kind: "overlap", at: hi, wallStart: hi + after, wallEnd: hi + before },
    );
    prev = cur;
  }
  return out;
}

const hhmm = (wall: number) => new Date(wall).toISOString().slice(11, 16);
const day = (wall: number) => new Date(wall).toISOString().slice(0, 10);

/**
 * Warnings for a 5-field cron `schedule` run by busybox crond in `timeZone`: one per clock
 * change of `years` on which a run falls in the skipped or repeated local hour. `what` names the
 * job in the message (e.g. `backupSchedule`). [] when the schedule is not numeric 5-field cron.
 */
export function dstWarnings(
  what: string,
  schedule: string,
  timeZone: string,
  years: readonly number[],
): string[] {
  const match = cronMatcher(schedule);
  if (!match) return [];
  const out: string[] = [];
  for (const year of years) {
    for (const tr of dstTransitions(timeZone, year)) {
      const hits: string[] = [];
      for (let w = tr.wallStart; w < tr.wallEnd; w += MINUTE) {
        if (match(new Date(w))) hits.push(hhmm(w));
      }
      if (!hits.length) continue;
      const range = `${hhmm(tr.wallStart)}-${hhmm(tr.wallEnd)}`;
      const times = hits.join(", ");
      out.push(
        tr.kind === "gap"
          ? `${what} "${schedule}" in ${timeZone}: ${times} does not exist on ${day(tr.wallStart)} (the clocks skip ${range}), so busybox crond skips that run; move it out of ${range} or use timezone Etc/UTC`
          : `${what} "${schedule}" in ${timeZone}: ${times} happens twice on ${day(tr.wallStart)} (the clocks repeat ${range}), so busybox crond runs it twice; move it out of ${range} or use timezone Etc/UTC`,
      );
    }
  }
  return out;
}

/** dstWarnings for the year of `now` and the next one. */
export function dstWarningsNow(
  what: string,
  schedule: string,
  timeZone: string,
  now = new Date(),
): string[] {
  const y = now.getUTCFullYear();
  return dstWarnings(what, schedule, timeZone, [y, y + 1]);
}

/**
 * The clock-change warnings of a server: every schedule busybox crond runs for it (each
 * service's backup, check and drill, and the replicas' check and drill), over the next calendar
 * year, each schedule and job named once.
 */
export function scheduleDstWarnings(
  timeZone: string,
  jobs: readonly { what: string; schedule: string }[],
  now = new Date(),
): string[] {
  const year = now.getUTCFullYear() + 1;
  const seen = new Set<string>();
  return jobs.flatMap(({ what, schedule }) => {
    const key = `${what}\0${schedule}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return dstWarnings(what, schedule, timeZone, [year]);
  });
}
