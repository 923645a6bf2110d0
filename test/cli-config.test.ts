/**
 * lib/cli-config.ts against what the Pulumi CLI does with a stack's config before the program
 * starts. Every expectation is read from github:pulumi/pulumi at 1b59498 (v3.260):
 * - pkg/workspace/config.go: mergeConfig (defaults as plain text), formatMissingKeys (:30),
 *   validateStackConfigValue (:119), createConfigValue (:179);
 * - sdk/go/common/workspace/project.go: ValidateConfigValue (:771), Project.Validate (:837);
 * - sdk/go/common/resource/config/object.go: MarshalString, Secure (stack file values);
 * - sdk/nodejs/cmd/pulumi-language-nodejs/main.go: constructConfig (`ns:config:key`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  CliConfigError,
  ConfigFileError,
  ProjectFile,
  goJson,
  programConfig,
  programConfigFor,
  pulumiConfigEnv,
  withEdits,
} from "../lib/cli-config";
import { ROOT, headerSecrets } from "./helpers";

const project = (config: ProjectFile["config"]): ProjectFile => ({
  name: "p",
  runtime: { name: "nodejs", options: {} },
  config,
});
/** The program's config for a stack file holding `values` (native YAML) and `secrets`. */
const merged = (p: ProjectFile, values: Record<string, unknown>, secrets = {}) =>
  programConfig(p, "s", withEdits(new Map(), p.name, { values, secrets }));
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (e) {
    if (e instanceof CliConfigError) return e.message;
    throw e;
  }
  return "no error";
};

describe("defaults, as mergeConfig fills them in", () => {
  const home = programConfigFor(ROOT, "home", { secrets: headerSecrets("home") });

  it("an unset key gets its default as plain text: a secret key's '' is not a secret", () => {
    expect(home.config["homelab:smtpPassword"]).toBe("");
    expect(home.secretKeys).not.toContain("homelab:smtpPassword");
    expect(home.secretKeys).toEqual(["homelab:acmeDnsToken", "homelab:sshPrivateKey"]);
  });

  it("primitives as %v, lists and maps as JSON (createConfigValue)", () => {
    expect(home.config["homelab:sshPort"]).toBe("22");
    expect(home.config["homelab:bootstrap"]).toBe("true");
    expect(home.config["homelab:backupReplicateTo"]).toBe('["*"]');
    const offsite = programConfigFor(ROOT, "offsite");
    expect(offsite.config["homelab:services"]).toBe("{}");
  });

  it("stack file values: text as is, numbers and booleans as JSON text, structures as JSON", () => {
    expect(home.config["homelab:domain"]).toBe("home.example.com");
    expect(home.config["homelab:sshOpts"]).toBe('["-o","ServerAliveInterval=30"]');
    expect(home.config["pulumi:disable-default-providers"]).toBe('["docker"]');
    const cloud = programConfigFor(ROOT, "cloud");
    expect(cloud.config["homelab:sshPort"]).toBe("2222");
  });
});

describe("stack file values (object.go MarshalString)", () => {
  const p = project({ v: { default: {} }, n: { default: "" } });
  it("maps are written by Go's encoder: keys sorted, HTML characters escaped", () => {
    expect(merged(p, { v: { b: 1, a: ["<x> & y"] } }).config["p:v"]).toBe(
      '{"a":["\\u003cx\\u003e \\u0026 y"],"b":1}',
    );
    expect(JSON.parse(goJson({ b: "<", a: 1 }))).toEqual({ a: 1, b: "<" });
  });

  it("a secure value is a secret key; a structure holding one is secret as a whole", () => {
    const c = programConfig(
      p,
      "s",
      withEdits(new Map(), "p", {
        values: { v: { token: { secure: "v1:abc" }, plain: 1 }, n: { secure: "v1:def" } },
      }),
    );
    expect(c.secretKeys).toEqual(["p:n", "p:v"]);
    expect(c.config["p:v"]).toBe('{"plain":1,"token":"[secret]"}');
  });

  it("the language host renames ns:key to ns:config:key in PULUMI_CONFIG", () => {
    const env = pulumiConfigEnv({ config: { "p:a": "1", "aws:region": "x" }, secretKeys: ["p:a"] });
    expect(JSON.parse(env.PULUMI_CONFIG)).toEqual({ "p:config:a": "1", "aws:config:region": "x" });
    expect(JSON.parse(env.PULUMI_CONFIG_SECRET_KEYS)).toEqual(["p:a"]);
  });
});

describe("what the CLI refuses before the program starts", () => {
  const typed = project({
    host: { type: "string" },
    domain: { type: "string" },
    port: { type: "integer", default: 22 },
    flag: { type: "boolean", default: false },
    list: { type: "array", items: { type: "string" }, default: [] },
    map: { type: "object", default: {} },
    token: { type: "string", secret: true, default: "" },
  });
  const ok = { host: "h", domain: "d", token: { secure: "v1:x" } };

  it.each([
    ["one key left out", { host: undefined }, "Stack 's' is missing configuration value 'host'"],
    [
      "two left out",
      { host: undefined, domain: undefined },
      "Stack 's' is missing configuration values 'domain' and 'host'",
    ],
    ["an integer as a word", { port: "eighty" }, "key 'port' must be of type 'integer'"],
    ["an integer as 2.5", { port: 2.5 }, "key 'port' must be of type 'integer'"],
    ["a boolean as yes", { flag: "yes" }, "key 'flag' must be of type 'boolean'"],
    ["a list as text", { list: "a,b" }, "key 'list' must be of type 'array<string>'"],
    ["a list of numbers", { list: [1] }, "key 'list' must be of type 'array<string>'"],
    ["a map as a list", { map: [] }, "key 'map' must be of type 'object'"],
    ["a string as a map", { host: { a: 1 } }, "key 'host' must be of type 'string'"],
    [
      "a secret in plain text",
      { token: "t" },
      "Stack 's' with configuration key 'token' must be encrypted as it's secret",
    ],
  ])("%s", (_name, values, message) => {
    const text = refusal(() => merged(typed, { ...ok, ...values }));
    expect(text).toMatch(/^validating stack config: /);
    expect(text).toContain(message);
  });

  it("three keys left out: commas, then 'and'", () => {
    const three = project({ a: { type: "string" }, b: { type: "string" }, c: { type: "string" } });
    expect(refusal(() => merged(three, {}))).toBe(
      "validating stack config: Stack 's' is missing configuration values 'a', 'b' and 'c'",
    );
  });

  it.each([
    ["an integer as text", { port: "+22" }],
    // loaders.go checkForEmptyConfig: a key with no value is "" (with a warning).
    ["an empty value, as the empty text", { host: null }],
    ["a boolean as text", { flag: "true" }],
    ["a number where text is declared", { host: 1234 }],
  ])("accepts %s (as ValidateConfigValue does)", (_name, values) => {
    expect(refusal(() => merged(typed, { ...ok, ...values }))).toBe("no error");
  });

  it("--skip-config-validation checks nothing and still merges the defaults", () => {
    const c = programConfig(typed, "s", withEdits(new Map(), "p", { values: { port: "x" } }), {
      validate: false,
    });
    expect(c.config).toMatchObject({ "p:port": "x", "p:flag": "false", "p:map": "{}" });
    expect(c.config["p:host"]).toBeUndefined();
  });
});

describe("files the CLI cannot use", () => {
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), "homelab-cli-config-"));
    temps.push(d);
    return d;
  };
  const temps: string[] = [];
  afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const project = (config: string) =>
    `name: p\nruntime: nodejs\nconfig:\n${config
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n")}\n`;
  const load = (projectYaml: string, stackYaml = "config: {}\n") => {
    const d = dir();
    writeFileSync(join(d, "Pulumi.yaml"), projectYaml);
    writeFileSync(join(d, "Pulumi.s.yaml"), stackYaml);
    try {
      return programConfigFor(d, "s");
    } catch (e) {
      if (e instanceof ConfigFileError || e instanceof CliConfigError) return e.message;
      throw e;
    }
  };

  it("shorthand: a bare value is a project key's default, an empty entry a required key", () => {
    // RewriteShorthandConfigValues (project.go:486); an empty entry declares neither.
    expect(load(project("region: eu\nzones: [a, b]\nowner:"), "config:\n  p:owner: me\n")).toEqual({
      config: { "p:region": "eu", "p:zones": '["a","b"]', "p:owner": "me" },
      secretKeys: [],
    });
    expect(load(project("owner:"))).toBe(
      "validating stack config: Stack 's' is missing configuration value 'owner'",
    );
  });

  it.each([
    [
      "a key of another namespace with a default",
      "aws:region: { default: eu }",
      "Pulumi.yaml: Configuration key 'aws:region' is not namespaced by the project and should not define a default value. Did you mean to use the 'value' attribute instead of 'default'?",
    ],
    [
      "a key of another namespace without a value",
      "aws:region: { description: x }",
      "Pulumi.yaml: Configuration key 'aws:region' is namespaced and must provide an attribute 'value'",
    ],
    [
      "both default and value",
      "a: { default: 1, value: 2 }",
      "Pulumi.yaml: project config 'a' cannot have both a 'default' and 'value' attribute",
    ],
  ])("Project.Validate refuses %s (project.go:837)", (_name, config, message) => {
    expect(load(project(config))).toBe(message);
  });

  it("names the file that is not YAML", () => {
    expect(load("name: p\nruntime: [nodejs\n")).toMatch(
      /^Pulumi\.yaml: not valid YAML \(.+\); fix the file's syntax$/,
    );
    expect(load(project("a: {default: x}"), "config: [\n")).toMatch(
      /^Pulumi\.s\.yaml: not valid YAML \(.+\); fix the file's syntax$/,
    );
  });

  it("refuses a stack file whose config is not a map, naming it", () => {
    expect(load(project("a: {default: x}"), "config: hello\n")).toBe(
      "Pulumi.s.yaml: config: expected a map of keys to values",
    );
    expect(load(project("a: {default: x}"), "- a\n")).toBe(
      "Pulumi.s.yaml: expected a map with a config: key",
    );
  });

  it("reads the old ns:config:key form as ns:key and refuses other colons (config/key.go ParseKey)", () => {
    expect(load(project("a: {default: x}"), "config:\n  p:config:a: y\n")).toMatchObject({
      config: { "p:a": "y" },
    });
    expect(load(project("a: {default: x}"), "config:\n  p:x:a: y\n")).toBe(
      "Pulumi.s.yaml: could not parse p:x:a as a configuration key (configuration keys should be of the form `<namespace>:<name>`)",
    );
  });

  it("does not type-check a secret read from a file: only the CLI can decrypt it", () => {
    expect(
      load(
        project("port: { type: integer, default: 22 }"),
        "config:\n  p:port:\n    secure: v1:MjI=\n",
      ),
    ).toEqual({ config: { "p:port": "[secret]" }, secretKeys: ["p:port"] });
  });
});
