/**
 * Cron arithmetic for heartbeat intervals: the largest gap between two runs of a 5-field
 * schedule, found by walking two years day by day and, on each day the schedule runs, its
 * hours and minutes in order (exact for the numeric subset that `isCron` accepts).
 */

const RANGES: readonly [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

function expand(field: string, [min, max]: [number, number]): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(",")) {
    const [range = "*", stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    const [lo, hi] =
      range === "*"
        ? [min, max]
        : range.includes("-")
          ? range.split("-").map(Number)
          : [Number(range), stepText ? max : Number(range)];
    for (let v = lo!; v <= hi!; v += step) out.add(v);
  }
  return out;
}

const cache = new Map<string, number>();

/** Largest gap in minutes between consecutive runs of `expr` over a year (or a year if it never runs twice). */
export function cronMaxGapMinutes(expr: string): number {
  const hit = cache.get(expr);
  if (hit !== undefined) return hit;
  const fields = expr.trim().split(/\s+/);
  const [mins, hours, doms, months, dows] = fields.map((f, i) => expand(f, RANGES[i]!));
  if (dows!.has(7)) dows!.add(0);
  const domStar = fields[2] === "*";
  const dowStar = fields[4] === "*";
  const sorted = (set: Set<number>, max: number) =>
    [...set].filter((v) => v <= max).sort((a, b) => a - b);
  const hourList = sorted(hours!, 23);
  const minuteList = sorted(mins!, 59);
  const start = Date.UTC(2025, 0, 1);
  const year = 366 * 24 * 60;
  let first = -1;
  let last = -1;
  let gap = 0;
  walk: for (let day = 0; day < 2 * 366; day++) {
    const d = new Date(start + day * 86_400_000);
    if (!months!.has(d.getUTCMonth() + 1)) continue;
    const domOk = doms!.has(d.getUTCDate());
    const dowOk = dows!.has(d.getUTCDay());
    // Vixie cron: when both day fields are restricted, either may match.
    const dayOk = domStar || dowStar ? domOk && dowOk : domOk || dowOk;
    if (!dayOk) continue;
    for (const h of hourList) {
      for (const mi of minuteList) {
        const m = day * 1440 + h * 60 + mi;
        if (first < 0) first = m;
        else gap = Math.max(gap, m - last);
        last = m;
        if (m > year && gap > 0) break walk;
      }
    }
  }
  const result = gap > 0 ? gap : year;
  cache.set(expr, result);
  return result;
}
