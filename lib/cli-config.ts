/**
 * The config the Pulumi CLI hands the program, built the way the CLI builds it. One function
 * for every way this project runs the program (the mock evaluation, `npm run plan`, the engine
 * stand-in), so none of them sees config a real `pulumi preview` would not.
 *
 * What the CLI does before the program starts (github:pulumi/pulumi at 1b59498, v3.260):
 * - `pkg/workspace/config.go` `mergeConfig` (called from `ValidateStackConfigAndApplyProjectConfig`
 *   by `pulumi preview`/`up`/`refresh`, `pkg/cmd/pulumi/operations/preview.go:529`): every key of
 *   `Pulumi.yaml`'s `config:` that the stack file leaves unset gets its `default` (or `value`)
 *   as a PLAIN-TEXT value (`createConfigValue`: primitives as `%v`, anything else as JSON). A
 *   project key with neither is "missing"; then each explicitly typed key is validated
 *   (`validateStackConfigValue`): `secret: true` needs an encrypted value, and the value must
 *   be of the declared type (`ValidateConfigValue`, `sdk/go/common/workspace/project.go:771`).
 *   Errors come back as `validating stack config: <message>` and the program never starts.
 * - Stack file values (`sdk/go/common/resource/config/object.go` `MarshalString`): a string is
 *   itself; a bool or number is its JSON text; a list or map is JSON text (Go's encoder: map
 *   keys sorted, `<`, `>`, `&` escaped); `{secure: …}` is a secret, and a list or map holding one
 *   is a secret as a whole (`object.Secure`). Secret keys are the `SecureKeys` of the merged map.
 * - `pkg/resource/deploy/source_eval.go:219-225` decrypts the map and sends it with the secret
 *   keys to the language host, which renames `ns:key` to `ns:config:key` in `PULUMI_CONFIG`
 *   (`sdk/nodejs/cmd/pulumi-language-nodejs/main.go`, `constructConfig`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseYamlOnce } from "./yaml-once";

/** A key declared in `Pulumi.yaml`'s `config:` block (`workspace.ProjectConfigType`). */
export interface ProjectConfigType {
  type?: string;
  items?: ProjectConfigItems;
  description?: string;
  default?: unknown;
  value?: unknown;
  secret?: boolean;
}
interface ProjectConfigItems {
  type: string;
  items?: ProjectConfigItems;
}

/** The parts of `Pulumi.yaml` the CLI uses to start the program. */
export interface ProjectFile {
  name: string;
  main?: string;
  runtime: { name: string; options: Record<string, unknown> };
  config: Record<string, ProjectConfigType>;
}

/** One value of the merged config, as `config.Value` holds it. */
interface ConfigValue {
  /** The text the program receives (decrypted). */
  text: string;
  secure: boolean;
  object: boolean;
}

/** What the program receives: `ns:key` → text, and the keys that are secrets. */
export interface ProgramConfig {
  config: Record<string, string>;
  secretKeys: string[];
}

/**
 * The CLI refused the stack config before starting the program. `message` is the CLI's own
 * text (`pulumi preview` prints it as `error: <message>`).
 */
export class CliConfigError extends Error {
  constructor(
    readonly stackName: string,
    message: string,
  ) {
    super(message);
    this.name = "CliConfigError";
  }
}

/** Reads and checks `Pulumi.yaml` the way `workspace.Project.Validate` does. */
export function readProjectFile(root: string): ProjectFile {
  const doc = parseYamlOnce(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as Record<
    string,
    unknown
  >;
  const runtime = doc.runtime;
  const project: ProjectFile = {
    name: String(doc.name ?? ""),
    ...(typeof doc.main === "string" ? { main: doc.main } : {}),
    runtime:
      typeof runtime === "string"
        ? { name: runtime, options: {} }
        : {
            name: String((runtime as Record<string, unknown>)?.name ?? ""),
            options: ((runtime as Record<string, unknown>)?.options ?? {}) as Record<
              string,
              unknown
            >,
          },
    config: (doc.config ?? {}) as Record<string, ProjectConfigType>,
  };
  validateProject(project);
  return project;
}

/** `Project.Validate` (`sdk/go/common/workspace/project.go:837`). */
function validateProject(p: ProjectFile): void {
  if (!p.name) throw new Error("project is missing a 'name' attribute");
  for (const [key, t] of Object.entries(p.config)) {
    if (t.default !== undefined && t.value !== undefined)
      throw new Error(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
    if (key.includes(":") && !key.startsWith(`${p.name}:`)) {
      if (t.type !== undefined)
        throw new Error(
          `Configuration key '${key}' is not namespaced by the project and should not define a type`,
        );
      continue;
    }
    if (t.type === "array" && !t.items)
      throw new Error(
        `The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`,
      );
    if (t.type !== undefined && t.default !== undefined && !validValue(t.type, t.items, t.default))
      throw new Error(
        `The default value specified for configuration key '${key}' is not of the expected type '${fullTypeName(t.type, t.items)}'`,
      );
  }
}

/**
 * The entries of `Pulumi.<stack>.yaml` (`ns:key` → value). `{secure: …}` values, which only
 * the CLI's secrets provider can decrypt, become `decrypt(ciphertext)`.
 */
export function readStackFile(
  root: string,
  project: string,
  stack: string,
  decrypt: (ciphertext: string) => string = () => "[secret]",
): Map<string, ConfigValue> {
  const text = readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8");
  const doc = (parseYamlOnce(text) ?? {}) as { config?: Record<string, unknown> };
  const entries = new Map<string, ConfigValue>();
  for (const [key, raw] of Object.entries(doc.config ?? {})) {
    entries.set(namespaced(project, key), stackValue(raw, decrypt));
  }
  return entries;
}

/** What a user set with `pulumi config set` on top of the stack file (bare keys: the project's). */
export interface ConfigEdits {
  /** `pulumi config set --secret <key> <value>`. */
  secrets?: Record<string, string>;
  /** `pulumi config set [--path] <key> <value>` (native YAML values); `undefined` removes a key. */
  values?: Record<string, unknown>;
}

/** The stack file's entries with `edits` applied, as the file would read after them. */
export function withEdits(
  entries: Map<string, ConfigValue>,
  project: string,
  edits: ConfigEdits,
): Map<string, ConfigValue> {
  const out = new Map(entries);
  for (const [key, value] of Object.entries(edits.secrets ?? {})) {
    out.set(namespaced(project, key), { text: value, secure: true, object: false });
  }
  // After the secrets: `undefined` is `pulumi config rm`, of a secret too.
  for (const [key, value] of Object.entries(edits.values ?? {})) {
    const full = namespaced(project, key);
    if (value === undefined) out.delete(full);
    else
      out.set(
        full,
        stackValue(value, () => "[secret]"),
      );
  }
  return out;
}

/**
 * Merges the project's defaults into the stack's entries and validates them, as the CLI does
 * before it starts the program; throws `CliConfigError` with the CLI's message.
 */
export function programConfig(
  project: ProjectFile,
  stack: string,
  entries: Map<string, ConfigValue>,
  opts: ConfigOptions = {},
): ProgramConfig {
  const merged = new Map(entries);
  const missing: string[] = [];
  for (const key of Object.keys(project.config).sort()) {
    const t = project.config[key]!;
    const full = namespaced(project.name, key);
    if (merged.has(full)) continue;
    const fallback = t.default ?? t.value;
    if (fallback === undefined) {
      if (full.startsWith(`${project.name}:`)) missing.push(key);
      continue;
    }
    merged.set(full, createConfigValue(fallback));
  }
  if (missing.length && opts.validate !== false) {
    throw new CliConfigError(
      stack,
      `validating stack config: Stack '${stack}' is missing configuration ${missing.length > 1 ? "values" : "value"} ${formatMissingKeys(missing)}`,
    );
  }
  for (const key of opts.validate === false ? [] : Object.keys(project.config).sort()) {
    const t = project.config[key]!;
    const v = merged.get(namespaced(project.name, key));
    if (t.type === undefined || !v) continue;
    if (t.secret && !v.secure) {
      throw new CliConfigError(
        stack,
        `validating stack config: Stack '${stack}' with configuration key '${key}' must be encrypted as it's secret`,
      );
    }
    const content: unknown = v.object ? JSON.parse(v.text) : v.text;
    if (!validValue(t.type, t.items, content)) {
      throw new CliConfigError(
        stack,
        `validating stack config: Stack '${stack}' with configuration key '${key}' must be of type '${fullTypeName(t.type, t.items)}'`,
      );
    }
  }
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, v] of merged) {
    config[key] = v.text;
    if (v.secure) secretKeys.push(key);
  }
  return { config, secretKeys: secretKeys.sort() };
}

/** How the CLI reads the stack's config. */
export interface ConfigOptions {
  /** Stands in for the stack's secrets provider (`{secure: …}` values of the file). */
  decrypt?: (ciphertext: string) => string;
  /**
   * false: `--skip-config-validation` (`ApplyProjectConfig`): defaults are merged, nothing is
   * checked, and the program gets whatever the file holds.
   */
  validate?: boolean;
}

/**
 * The program's config for `Pulumi.<stack>.yaml` in `root` after `edits`: exactly what the
 * CLI would hand it, or the CLI's error.
 */
export function programConfigFor(
  root: string,
  stack: string,
  edits: ConfigEdits = {},
  opts: ConfigOptions = {},
): ProgramConfig {
  const project = readProjectFile(root);
  const entries = readStackFile(root, project.name, stack, opts.decrypt);
  return programConfig(project, stack, withEdits(entries, project.name, edits), opts);
}

/** `PULUMI_CONFIG` as the Node.js language host writes it (`constructConfig`). */
export function pulumiConfigEnv(c: ProgramConfig): {
  PULUMI_CONFIG: string;
  PULUMI_CONFIG_SECRET_KEYS: string;
} {
  const renamed: Record<string, string> = {};
  for (const [key, text] of Object.entries(c.config)) {
    const i = key.indexOf(":");
    renamed[`${key.slice(0, i)}:config:${key.slice(i + 1)}`] = text;
  }
  return {
    PULUMI_CONFIG: JSON.stringify(renamed),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(c.secretKeys),
  };
}

function namespaced(project: string, key: string): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

/** `createConfigValue` (`pkg/workspace/config.go:179`): primitives as `%v`, others as JSON. */
function createConfigValue(v: unknown): ConfigValue {
  if (
    typeof v === "string" ||
    typeof v === "boolean" ||
    (typeof v === "number" && Number.isInteger(v))
  )
    return { text: String(v), secure: false, object: false };
  return { text: goJson(v), secure: false, object: true };
}

/** A stack file value (`object.MarshalString`); `{secure: c}` anywhere makes it a secret. */
function stackValue(raw: unknown, decrypt: (c: string) => string): ConfigValue {
  if (isSecure(raw)) return { text: decrypt(raw.secure), secure: true, object: false };
  if (typeof raw === "string") return { text: raw, secure: false, object: false };
  if (typeof raw === "boolean" || typeof raw === "number")
    return { text: goJson(raw), secure: false, object: false };
  let secure = false;
  const plain = (v: unknown): unknown => {
    if (isSecure(v)) {
      secure = true;
      return decrypt(v.secure);
    }
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    return v;
  };
  const text = goJson(plain(raw));
  return { text, secure, object: true };
}

function isSecure(v: unknown): v is { secure: string } {
  return (
    !!v &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    typeof (v as { secure?: unknown }).secure === "string"
  );
}

/** JSON as Go's `encoding/json` writes it: map keys sorted, HTML characters escaped. */
export function goJson(v: unknown): string {
  const sorted = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sorted);
    if (x && typeof x === "object")
      return Object.fromEntries(
        Object.keys(x)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
          .map((k) => [k, sorted((x as Record<string, unknown>)[k])]),
      );
    return x;
  };
  return JSON.stringify(sorted(v)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** `ValidateConfigValue` (`sdk/go/common/workspace/project.go:771`). */
function validValue(type: string, items: ProjectConfigItems | undefined, value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      if (typeof value === "number") return Number.isInteger(value);
      // strconv.Atoi: an optional sign and decimal digits, within 64 bits.
      if (typeof value === "string" && /^[+-]?\d+$/.test(value)) {
        const n = BigInt(value);
        return n >= -(2n ** 63n) && n < 2n ** 63n;
      }
      return false;
    case "boolean":
      return value === true || value === false || value === "true" || value === "false";
    case "object":
      return !!value && typeof value === "object" && !Array.isArray(value);
    default:
      return (
        Array.isArray(value) &&
        !!items &&
        value.every((x) => validValue(items.type, items.items, x))
      );
  }
}

function fullTypeName(type: string, items?: ProjectConfigItems): string {
  return items ? `array<${fullTypeName(items.type, items.items)}>` : type;
}

/** `formatMissingKeys` (`pkg/workspace/config.go:30`). */
function formatMissingKeys(keys: string[]): string {
  if (keys.length === 1) return `'${keys[0]}'`;
  const sorted = [...keys].sort();
  return sorted
    .map((k, i) =>
      i === sorted.length - 1 ? `and '${k}'` : i === sorted.length - 2 ? `'${k}' ` : `'${k}', `,
    )
    .join("");
}
