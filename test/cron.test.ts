/**
 * configs/cron.ts walks a schedule day by day. Its answer is checked against the plainest
 * possible oracle, written here: every minute of two years, matched field by field with Vixie
 * cron's day rule (when both day-of-month and day-of-week are restricted, either matches; man 5
 * crontab), for random schedules in the numeric subset `isCron` accepts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cronMaxGapMinutes } from "../configs/cron";
import { isCron } from "../lib/checks";

function values(field: string, min: number, max: number): Set<number> {
  const out = new Set<number>();
  for (const part of field.split(",")) {
    const [range, step] = part.split("/");
    const [lo, hi] =
      range === "*"
        ? [min, max]
        : range!.includes("-")
          ? range!.split("-").map(Number)
          : [Number(range), step ? max : Number(range)];
    for (let v = lo!; v <= hi!; v += Number(step ?? 1)) out.add(v);
  }
  return out;
}

/** Largest gap in minutes, minute by minute over two years from 2025-01-01 UTC. */
function oracle(expr: string): number {
  const f = expr.split(" ");
  const [mins, hours, doms, months, dows] = [
    values(f[0]!, 0, 59),
    values(f[1]!, 0, 23),
    values(f[2]!, 1, 31),
    values(f[3]!, 1, 12),
    values(f[4]!, 0, 7),
  ];
  if (dows.has(7)) dows.add(0);
  const runs: number[] = [];
  for (let m = 0; m < 2 * 366 * 1440; m++) {
    const d = new Date(Date.UTC(2025, 0, 1) + m * 60_000);
    if (!mins.has(d.getUTCMinutes()) || !hours.has(d.getUTCHours())) continue;
    if (!months.has(d.getUTCMonth() + 1)) continue;
    const dom = doms.has(d.getUTCDate());
    const dow = dows.has(d.getUTCDay());
    if (f[2] === "*" || f[4] === "*" ? dom && dow : dom || dow) runs.push(m);
  }
  let gap = 0;
  // Gaps that start within the first year: the walk covers one more year after each.
  for (let i = 1; i < runs.length && runs[i - 1]! <= 366 * 1440; i++)
    gap = Math.max(gap, runs[i]! - runs[i - 1]!);
  return gap || 366 * 1440;
}

const field = (lo: number, hi: number) =>
  fc.oneof(
    fc.constant("*"),
    fc.integer({ min: lo, max: hi }).map(String),
    fc
      .tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }))
      .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc.integer({ min: 1, max: 15 }).map((s) => `*/${s}`),
    fc
      .array(fc.integer({ min: lo, max: hi }), { minLength: 1, maxLength: 3 })
      .map((a) => a.join(",")),
  );

describe("cronMaxGapMinutes", () => {
  it("equals a minute-by-minute walk for random schedules", () => {
    fc.assert(
      fc.property(field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 7), (...f) => {
        const expr = f.join(" ");
        fc.pre(isCron(expr));
        expect(cronMaxGapMinutes(expr), expr).toBe(oracle(expr));
      }),
      { numRuns: 40 },
    );
  });
});
