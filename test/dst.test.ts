/**
 * lib/dst.ts: which cron runs busybox crond skips or repeats when the clocks change.
 *
 * Expected values from upstream:
 * - busybox miscutils/crond.c (tag 1_36_1) flag_starting_jobs() L889-903 walks every minute
 *   `t` and matches the job on `ptm = localtime(&t)`: local wall-clock time, so a local time the
 *   clocks skip never matches, and one they repeat matches twice. FixDayDow() L336: either day
 *   field matches when both are restricted.
 * - tz database (github:eggert/tz tag 2026c, file `europe`): Europe/Berlin is `1:00 EU CE%sT`
 *   since 1980, with `Rule EU 1981 max - Mar lastSun 1:00u 1:00 S` (L568) and
 *   `Rule EU 1996 max - Oct lastSun 1:00u 0 -` (L569): at 01:00 UTC on the last Sunday of March
 *   local 02:00 becomes 03:00 (02:00-03:00 skipped); at 01:00 UTC on the last Sunday of October
 *   local 03:00 becomes 02:00 (02:00-03:00 twice). Last Sundays: 2025-03-30, 2025-10-26,
 *   2026-03-29, 2026-10-25.
 */
import { describe, expect, it } from "vitest";
import { dstTransitions, dstWarnings, dstWarningsNow } from "../lib/dst";

const BERLIN = "Europe/Berlin";

describe("dstTransitions", () => {
  it("Europe/Berlin 2025: the EU rules", () => {
    expect(
      dstTransitions(BERLIN, 2025).map((t) => ({
        kind: t.kind,
        at: new Date(t.at).toISOString(),
        wall: [new Date(t.wallStart).toISOString(), new Date(t.wallEnd).toISOString()],
      })),
    ).toEqual([
      {
        kind: "gap",
        at: "2025-03-30T01:00:00.000Z",
        wall: ["2025-03-30T02:00:00.000Z", "2025-03-30T03:00:00.000Z"],
      },
      {
        kind: "overlap",
        at: "2025-10-26T01:00:00.000Z",
        wall: ["2025-10-26T02:00:00.000Z", "2025-10-26T03:00:00.000Z"],
      },
    ]);
  });

  it("UTC has none", () => {
    expect(dstTransitions("Etc/UTC", 2025)).toEqual([]);
    expect(dstTransitions("UTC", 2026)).toEqual([]);
  });
});

describe("dstWarnings", () => {
  it("02:15 under Europe/Berlin is skipped in March (the gap)", () => {
    expect(dstWarnings("backupSchedule", "15 2 * 3 *", BERLIN, [2025, 2026])).toEqual([
      'backupSchedule "15 2 * 3 *" in Europe/Berlin: 02:15 does not exist on 2025-03-30 (the clocks skip 02:00-03:00), so busybox crond skips that run; move it out of 02:00-03:00 or use timezone Etc/UTC',
      'backupSchedule "15 2 * 3 *" in Europe/Berlin: 02:15 does not exist on 2026-03-29 (the clocks skip 02:00-03:00), so busybox crond skips that run; move it out of 02:00-03:00 or use timezone Etc/UTC',
    ]);
  });

  it("02:30 under Europe/Berlin runs twice in October (the overlap)", () => {
    expect(dstWarnings("backupCheckSchedule", "30 2 * 10 *", BERLIN, [2025])).toEqual([
      'backupCheckSchedule "30 2 * 10 *" in Europe/Berlin: 02:30 happens twice on 2025-10-26 (the clocks repeat 02:00-03:00), so busybox crond runs it twice; move it out of 02:00-03:00 or use timezone Etc/UTC',
    ]);
  });

  it("a daily 02:15 hits both changes; a Sunday-only 02:30 too; a Monday-only 02:30 neither", () => {
    expect(dstWarnings("backupSchedule", "15 2 * * *", BERLIN, [2025])).toHaveLength(2);
    expect(dstWarnings("drillSchedule", "30 2 * * 0", BERLIN, [2025])).toHaveLength(2);
    expect(dstWarnings("drillSchedule", "30 2 * * 1", BERLIN, [2025])).toEqual([]);
  });

  it("every 20 minutes lists each affected time", () => {
    expect(dstWarnings("x", "*/20 * * 3 *", BERLIN, [2025])).toEqual([
      'x "*/20 * * 3 *" in Europe/Berlin: 02:00, 02:20, 02:40 does not exist on 2025-03-30 (the clocks skip 02:00-03:00), so busybox crond skips that run; move it out of 02:00-03:00 or use timezone Etc/UTC',
    ]);
  });

  it("outside the changed hour (the defaults 0 3 / 30 4 / 0 6): no warning", () => {
    for (const s of ["0 3 * * *", "30 4 * * 0", "0 6 * * 0", "59 1 * * *"]) {
      expect(dstWarnings("s", s, BERLIN, [2025, 2026]), s).toEqual([]);
    }
  });

  it("a UTC server: no warning", () => {
    expect(dstWarnings("backupSchedule", "15 2 * * *", "Etc/UTC", [2025, 2026])).toEqual([]);
    expect(dstWarningsNow("backupSchedule", "30 2 * * *", "UTC")).toEqual([]);
  });

  it("the current and the next year", () => {
    expect(
      dstWarningsNow("backupSchedule", "15 2 * * *", BERLIN, new Date("2025-06-01T00:00:00Z")),
    ).toEqual([
      ...dstWarnings("backupSchedule", "15 2 * * *", BERLIN, [2025]),
      ...dstWarnings("backupSchedule", "15 2 * * *", BERLIN, [2026]),
    ]);
    expect(dstWarningsNow("b", "15 2 * * *", BERLIN, new Date("2025-06-01Z"))).toHaveLength(4);
  });

  it("not numeric 5-field cron, or an unknown zone: no warning (validated elsewhere)", () => {
    expect(dstWarnings("s", "@daily", BERLIN, [2025])).toEqual([]);
    expect(dstWarnings("s", "0 0 2 * * *", BERLIN, [2025])).toEqual([]);
    expect(dstWarnings("s", "15 2 * * *", "Mars/Olympus", [2025])).toEqual([]);
  });
});

describe("the program warns of its own schedules (lib/program.ts)", () => {
  it("names the stack's backupSchedule once, not each service that inherits it", async () => {
    const { evaluateReference } = await import("./helpers");
    const e = await evaluateReference("home", { overrides: { backupSchedule: "15 2 * * *" } });
    const dst = e.warnings.filter((w) => w.includes("busybox crond"));
    expect(dst).toHaveLength(2);
    expect(
      dst.every((w) => w.startsWith('backupSchedule "15 2 * * *" in Europe/Berlin: 02:15')),
    ).toBe(true);
    const quiet = await evaluateReference("home");
    expect(quiet.warnings.filter((w) => w.includes("busybox crond"))).toEqual([]);
  });
});
