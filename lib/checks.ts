/**
 * Small, path-aware value checks shared by the config parser and the declaration resolver.
 * Each check records a problem (`path: expected …, got …`) instead of throwing, so one run
 * reports every problem at once.
 */
import { closest, distance } from "fastest-levenshtein";
import { cronMaxGapMinutes } from "../configs/cron";

/** Collects problems as `path: message` lines. */
export class Problems {
  readonly lines: string[] = [];

  add(path: string, message: string): void {
    this.lines.push(`${path}: ${message}`);
  }

  expected(path: string, what: string, got: unknown): void {
    this.add(path, `expected ${what}, got ${show(got)}`);
  }

  get empty(): boolean {
    return this.lines.length === 0;
  }
}

/** How a given value is quoted in messages. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** `did you mean "x"?` for a misspelt name, or "" when nothing is close. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  if (candidates.length === 0) return "";
  const best = closest(name, [...candidates]);
  const limit = Math.max(2, Math.floor(best.length / 3));
  return distance(name.toLowerCase(), best.toLowerCase()) <= limit
    ? ` (did you mean "${best}"?)`
    : "";
}

/** A key as a path segment: bare when it is a plain name, JSON-quoted otherwise ("", spaces, newlines). */
export function pathKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

/**
 * A lookup table without a prototype: a key read from config (`acmeDnsProvider: constructor`,
 * `toString`, `__proto__`) finds nothing instead of Object's own members.
 */
export function lookup<V>(entries: Record<string, V>): Record<string, V> {
  return Object.assign(Object.create(null) as Record<string, V>, entries);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reports keys of `obj` not in `allowed`, with a did-you-mean hint. */
export function unknownKeys(
  p: Problems,
  path: string,
  obj: Record<string, unknown>,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(obj).sort()) {
    if (!allowed.includes(key)) {
      const where = path ? `${path}.${pathKey(key)}` : pathKey(key);
      p.add(where, `unknown key${didYouMean(key, allowed)}; allowed: ${allowed.join(", ")}`);
    }
  }
}

const CRON_FIELDS: readonly [string, number, number][] = [
  ["minute", 0, 59],
  ["hour", 0, 23],
  ["day of month", 1, 31],
  ["month", 1, 12],
  ["day of week", 0, 7],
];

/**
 * Whether `expr` is a cron schedule that busybox crond (5 fields) or, with `seconds`,
 * Watchtower (6 fields, seconds first) understands: numbers, `*`, ranges, lists and steps.
 */
export function isCron(expr: string, seconds = false): boolean {
  return cronProblem(expr, seconds) === undefined;
}

/** What is wrong with a cron schedule (`minute 61 is not in 0-59`), or undefined when valid. */
export function cronProblem(expr: string, seconds = false): string | undefined {
  const fields = expr.trim().split(/\s+/);
  const spec = seconds
    ? [["second", 0, 59] as [string, number, number], ...CRON_FIELDS]
    : CRON_FIELDS;
  const n = fields.length;
  if (n !== spec.length) return `${n} field${n === 1 ? "" : "s"} instead of ${spec.length}`;
  for (const [i, field] of fields.entries()) {
    const [name, min, max] = spec[i]!;
    for (const part of field.split(",")) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      if (!m) return `${name} ${JSON.stringify(part)} is not a number, range, * or step`;
      const [, , lo, hi, step] = m;
      if (step !== undefined && Number(step) < 1) return `${name} step ${step} is below 1`;
      if (lo === undefined) continue;
      const a = Number(lo);
      const b = hi === undefined ? a : Number(hi);
      if (a < min || b > max) return `${name} ${part.split("/")[0]} is not in ${min}-${max}`;
      if (a > b) return `${name} range ${a}-${b} runs backwards`;
    }
  }
  // A job that runs this rarely (or never: "0 3 31 2 *") gets a heartbeat that waits as long
  // before it notices anything (configs/gatus.ts heartbeatInterval).
  const gap = cronMaxGapMinutes((seconds ? fields.slice(1) : fields).join(" "));
  if (gap > MAX_CRON_GAP_DAYS * 1440) {
    const days = Math.round(gap / 1440);
    return `${days >= 365 ? "it runs at most once a year, or never" : `up to ${days} days pass between two runs`}; run it at least every ${MAX_CRON_GAP_DAYS} days`;
  }
  return undefined;
}

/**
 * The longest a scheduled job may wait between two runs: a month. "0 3 1 * *" (31 days at most)
 * passes; "0 3 31 * *" (no run in 30-day months: 61 days) and "0 3 31 2 *" (never) do not.
 */
export const MAX_CRON_GAP_DAYS = 31;

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
/** A DNS name with at least two labels, lower case. */
export const DOMAIN_RE = new RegExp(`^(?:${LABEL}\\.)+[a-z][a-z0-9-]*[a-z0-9]$`);
/** One DNS label: service names, subdomains, stack names. */
export const NAME_RE = new RegExp(`^${LABEL}$`);
/** An image reference that names a tag or a digest. */
export const IMAGE_RE =
  /^[a-z0-9]+(?:[._\/-][a-z0-9]+)*(?::\d+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})$/;
/** A group of the single sign-on's users, as `ssoUsers` and `http.groups` name it. */
export const GROUP_RE = /^[a-z][a-z0-9_-]{0,63}$/;
/** Environment variable names. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
