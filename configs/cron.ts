/**
 * Cron arithmetic for heartbeat intervals: the largest gap between two runs of a 5-field
 * schedule, found by walking a year minute by minute (fast enough, and exact for the
 * numeric subset that `isCron` accepts).
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
  const start = Date.UTC(2025, 0, 1);
  const year = 366 * 24 * 60;
  let first = -1;
  let last = -1;
  let gap = 0;
  for (let m = 0; m < 2 * year; m++) {
    const d = new Date(start + m * 60_000);
    if (
      !mins!.has(d.getUTCMinutes()) ||
      !hours!.has(d.getUTCHours()) ||
      !months!.has(d.getUTCMonth() + 1)
    )
      continue;
    const domOk = doms!.has(d.getUTCDate());
    const dowOk = dows!.has(d.getUTCDay());
    // Vixie cron: when both day fields are restricted, either may match.
    const dayOk = domStar || dowStar ? domOk && dowOk : domOk || dowOk;
    if (!dayOk) continue;
    if (first < 0) first = m;
    else gap = Math.max(gap, m - last);
    last = m;
    if (m > year && first >= 0 && gap > 0) break;
  }
  const result = gap > 0 ? gap : year;
  cache.set(expr, result);
  return result;
}
