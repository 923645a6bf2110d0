/**
 * Readers of an evaluation for the plan: resources by type, container labels and uploaded
 * files, the rendered Gatus config. Everything comes out redacted ("[secret]"), except the
 * uploaded files `uploadText` is asked for by name, which callers limit to files that never
 * hold secrets (the Gatus config, the backup crontab) or read only named variables of (the
 * backup script's capture settings, `scriptVar`).
 */
import { parseYamlOnce } from "../lib/yaml-once";
import { Evaluation, RegisteredResource, Secret, reveal } from "./evaluate";

export const TYPES = {
  container: "docker:index/container:Container",
  volume: "docker:index/volume:Volume",
  image: "docker:index/remoteImage:RemoteImage",
} as const;

/** A JSON copy where every secret is "[secret]". */
export function redact<T>(v: T): T {
  return JSON.parse(JSON.stringify(v ?? null)) as T;
}

/** A value as text ("" when absent). */
export const str = (v: unknown) => (typeof v === "string" ? v : v === undefined ? "" : String(v));

/** Labels of a container as a map (redacted). */
export function labelsOf(c: RegisteredResource): Record<string, string> {
  const list = redact(c.inputs.labels) as { label: string; value: string }[] | string | null;
  if (!Array.isArray(list)) return {};
  return Object.fromEntries(list.map((l) => [l.label, str(l.value)]));
}

/** A rendered file uploaded into a container, for files that are known to hold no secret. */
export function uploadText(c: RegisteredResource, file: string): string | undefined {
  const raw = c.inputs.uploads;
  const list = (raw instanceof Secret ? raw.value : raw) as unknown[] | undefined;
  for (const item of list ?? []) {
    const u = (item instanceof Secret ? item.value : item) as Record<string, unknown>;
    if (reveal(u.file) === file) return String(reveal(u.content));
  }
  return undefined;
}

export function containers(e: Evaluation): RegisteredResource[] {
  return e.resources.filter((r) => r.type === TYPES.container);
}

/** The container whose Docker name is `name`. */
export function containerNamed(e: Evaluation, name: string): RegisteredResource | undefined {
  return containers(e).find((c) => c.inputs.name === name);
}

export interface GatusFile {
  endpoints?: { name: string; group: string; url: string; alerts?: { type: string }[] }[];
  "external-endpoints"?: {
    name: string;
    group: string;
    heartbeat?: { interval?: string };
    alerts?: { type: string }[];
  }[];
}

/** The parsed config.yaml of the server's Gatus, if it has one. */
export function gatusConfig(e: Evaluation): GatusFile | undefined {
  const c = containerNamed(e, "gatus");
  const text = c && uploadText(c, "/config/config.yaml");
  return text ? (parseYamlOnce(text) as GatusFile) : undefined;
}

/**
 * The value of `NAME=…` in a generated script, as `shellQuote` (configs/shell.ts) wrote it: a
 * single-quoted word (`'\''` inside for a quote) or a bare number; "" when absent.
 */
export function scriptVar(script: string, name: string): string {
  const m = new RegExp(`(?:^|\\s)${name}=((?:'[^']*'|\\\\')+|[0-9]+)`, "m").exec(script);
  if (!m) return "";
  return m[1]!.replace(/'([^']*)'|\\'/g, (_q, inner: string | undefined) => inner ?? "'");
}
