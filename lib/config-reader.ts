/**
 * Typed reads of raw config values for the parser: each read records a problem (path, what was
 * expected, what was given) instead of throwing, and falls back to the key's declared default.
 */
import { NAME_RE, Problems, cronProblem, isRecord, show } from "./checks";
import { CONFIG_KEYS, KeySpec } from "./config-keys";

/** Reads keys of one object with defaults from CONFIG_KEYS (top level) or none (nested). */
export class Reader {
  constructor(
    private readonly p: Problems,
    private readonly values: Record<string, unknown>,
    private readonly prefix = "",
  ) {}

  private raw(key: string): unknown {
    const v = this.values[key];
    if (v !== undefined) return v;
    if (this.prefix) return undefined;
    return (CONFIG_KEYS as Record<string, KeySpec>)[key]?.default;
  }

  private missing(key: string): void {
    this.p.add(this.prefix + key, `required; run pulumi config set ${key} <value>`);
  }

  /** Structured values arrive from Pulumi as JSON text. */
  private structured(key: string): unknown {
    const v = this.raw(key);
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }

  str(key: string, o: { pattern?: RegExp; what?: string; allowEmpty?: boolean } = {}): string {
    const v = this.raw(key);
    if (v === undefined) {
      this.missing(key);
      return "";
    }
    if (typeof v !== "string") {
      this.p.expected(this.prefix + key, o.what ?? "a string", v);
      return "";
    }
    if (v === "" && o.allowEmpty) return v;
    if (v === "" || (o.pattern && !o.pattern.test(v))) {
      this.p.expected(this.prefix + key, o.what ?? "a non-empty string", v);
      return "";
    }
    return v;
  }

  /** Records that `key`'s value `v` is not `what` was expected. */
  refuse(key: string, what: string, v: unknown): void {
    this.p.expected(this.prefix + key, what, v);
  }

  int(key: string, min: number, max: number): number {
    const v = this.raw(key);
    const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      this.p.expected(this.prefix + key, `an integer ${min}-${max}`, v);
      return min;
    }
    return n;
  }

  bool(key: string): boolean {
    const v = this.raw(key);
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    this.p.expected(this.prefix + key, "true or false", v);
    return false;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const v = this.raw(key);
    if (typeof v === "string" && (allowed as readonly string[]).includes(v)) return v as T;
    this.p.add(
      this.prefix + key,
      `expected one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${show(v)}`,
    );
    return allowed[0]!;
  }

  cron(key: string, seconds = false): string {
    const v = this.str(key, {
      what: seconds ? "a 6-field cron schedule" : "a 5-field cron schedule",
    });
    const problem = v ? cronProblem(v, seconds) : undefined;
    if (problem) {
      const what = seconds
        ? "a 6-field cron schedule (seconds first)"
        : 'a 5-field cron schedule like "0 3 * * *"';
      this.p.add(this.prefix + key, `expected ${what}, got ${show(v)} (${problem})`);
      return "";
    }
    return v;
  }

  strArray(key: string): string[] {
    const v = this.structured(key);
    if (!Array.isArray(v)) {
      this.p.expected(this.prefix + key, "a list of strings", v);
      return [];
    }
    return v.flatMap((item, i) => {
      if (typeof item === "string") return [item];
      this.p.expected(`${this.prefix}${key}[${i}]`, "a string", item);
      return [];
    });
  }

  names(key: string): string[] {
    const list = this.strArray(key);
    const seen = new Set<string>();
    return list.filter((name, i) => {
      if (!NAME_RE.test(name))
        this.p.expected(
          `${this.prefix}${key}[${i}]`,
          "a stack name (lower-case letters, digits, -)",
          name,
        );
      else if (seen.has(name)) this.p.add(`${this.prefix}${key}[${i}]`, `duplicate "${name}"`);
      else {
        seen.add(name);
        return true;
      }
      return false;
    });
  }

  object(key: string): Record<string, unknown> {
    const v = this.structured(key);
    if (v === undefined && this.prefix) return {};
    if (!isRecord(v)) {
      this.p.expected(this.prefix + key, "an object", v);
      return {};
    }
    return v;
  }
}
