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
  /**
   * A secret read from a file: only the CLI's secrets provider can decrypt it, so `text` is a
   * stand-in and its declared type cannot be checked (the CLI checks the decrypted value).
   */
  opaque?: boolean;
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

/**
 * A project or stack file the CLI cannot use. `message` names the file and the problem, in the
 * CLI's words where it has them.
 */
export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = "ConfigFileError";
  }
}

/** A YAML file of the project, parsed, or a ConfigFileError naming it. */
function readYaml(root: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(join(root, file), "utf8");
  } catch (e) {
    throw new ConfigFileError(file, `${file}: cannot be read (${(e as Error).message})`);
  }
  try {
    return parseYamlOnce(text);
  } catch (e) {
    const detail = (e as Error).message.split("\n")[0];
    throw new ConfigFileError(file, `${file}: not valid YAML (${detail}); fix the file's syntax`);
  }
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === "object" && !Array.isArray(v);

/** Reads and checks `Pulumi.yaml` the way the CLI's project loader does. */
export function readProjectFile(root: string): ProjectFile {
  const doc = readYaml(root, "Pulumi.yaml");
  // "expected project to be an object" (sdk/go/common/workspace/project.go:554)
  if (!isMap(doc))
    throw new ConfigFileError("Pulumi.yaml", "Pulumi.yaml: expected project to be an object");
  const runtime = doc.runtime;
  const runtimeMap = isMap(runtime) ? runtime : {};
  const project: ProjectFile = {
    name: String(doc.name ?? ""),
    ...(typeof doc.main === "string" ? { main: doc.main } : {}),
    runtime: {
      name: typeof runtime === "string" ? runtime : String(runtimeMap.name ?? ""),
      options: isMap(runtimeMap.options) ? runtimeMap.options : {},
    },
    config: projectConfig(String(doc.name ?? ""), doc.config),
  };
  validateProject(project);
  return project;
}

/**
 * The `config:` block with the CLI's shorthand written out (`RewriteShorthandConfigValues`,
 * project.go:486): a bare value or list of a project key is its `default`, of another
 * namespace its `value`; an empty entry declares a key with neither (a required one).
 */
function projectConfig(name: string, raw: unknown): Record<string, ProjectConfigType> {
  if (raw === undefined || raw === null) return {};
  if (!isMap(raw))
    throw new ConfigFileError("Pulumi.yaml", "Pulumi.yaml: config: expected a map of keys");
  const out: Record<string, ProjectConfigType> = {};
  for (const [key, v] of Object.entries(raw)) {
    if (v === null || v === undefined) out[key] = {};
    else if (isMap(v)) out[key] = v as ProjectConfigType;
    else out[key] = ownKey(name, key) ? { default: v } : { value: v };
  }
  return out;
}

const ownKey = (project: string, key: string) =>
  !key.includes(":") || key.startsWith(`${project}:`);

/** `Project.Validate` (`sdk/go/common/workspace/project.go:837`); errors name Pulumi.yaml. */
function validateProject(p: ProjectFile): void {
  const fail = (message: string) => {
    throw new ConfigFileError("Pulumi.yaml", `Pulumi.yaml: ${message}`);
  };
  if (!p.name) fail("project is missing a 'name' attribute");
  for (const [key, t] of Object.entries(p.config)) {
    if (t.default !== undefined && t.value !== undefined)
      fail(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
    if (!ownKey(p.name, key)) {
      if (t.type !== undefined)
        fail(
          `Configuration key '${key}' is not namespaced by the project and should not define a type`,
        );
      if (t.default !== undefined)
        fail(
          `Configuration key '${key}' is not namespaced by the project and should not define a default value. Did you mean to use the 'value' attribute instead of 'default'?`,
        );
      if (t.value === undefined)
        fail(`Configuration key '${key}' is namespaced and must provide an attribute 'value'`);
      continue;
    }
    if (t.type === "array" && !t.items)
      fail(
        `The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`,
      );
    if (t.type !== undefined && t.default !== undefined && !validValue(t.type, t.items, t.default))
      fail(
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
  const file = `Pulumi.${stack}.yaml`;
  const doc = readYaml(root, file) ?? {};
  if (!isMap(doc)) throw new ConfigFileError(file, `${file}: expected a map with a config: key`);
  const config = doc.config ?? {};
  if (!isMap(config))
    throw new ConfigFileError(file, `${file}: config: expected a map of keys to values`);
  const entries = new Map<string, ConfigValue>();
  for (const [key, raw] of Object.entries(config)) {
    entries.set(parseKey(file, project, key), stackValue(raw, decrypt));
  }
  return entries;
}

/**
 * `config.ParseKey` (sdk/go/common/resource/config/key.go): `ns:key`, or the old
 * `ns:config:key`; a bare key is the project's (`pulumi config set` writes it that way).
 */
function parseKey(file: string, project: string, key: string): string {
  const parts = key.split(":");
  if (parts.length === 1) return `${project}:${key}`;
  if (parts.length === 2 && parts[0] && parts[1]) return key;
  if (parts.length === 3 && parts[1] === "config" && parts[0] && parts[2])
    return `${parts[0]}:${parts[2]}`;
  throw new ConfigFileError(
    file,
    `${file}: could not parse ${key} as a configuration key (configuration keys should be of the form \`<namespace>:<name>\`)`,
  );
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
    if (v.opaque) continue;
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

/**
 * A stack file value (`object.MarshalString`); `{secure: c}` anywhere makes it a secret. A
 * key with no value is "" (the CLI warns "No value for configuration key"; loaders.go,
 * checkForEmptyConfig).
 */
function stackValue(raw: unknown, decrypt: (c: string) => string): ConfigValue {
  if (raw === null || raw === undefined) return { text: "", secure: false, object: false };
  if (isSecure(raw))
    return { text: decrypt(raw.secure), secure: true, object: false, opaque: true };
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
  return { text, secure, object: true, ...(secure ? { opaque: true } : {}) };
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
