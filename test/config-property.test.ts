/**
 * Property-based tests of the config parser (fast-check): whatever the stack config holds, the
 * parser either returns a config or throws ConfigError (never another exception), and the
 * program registers no resource at all for a config it rejects.
 */
import fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import {
  CONFIG_KEYS,
  ConfigError,
  OVERRIDE_KEYS,
  SECRET_KEYS,
  parseStackConfig,
} from "../lib/config";
import type { ServiceSpec } from "../lib/model";
import type { ProgramConfig } from "../lib/cli-config";
import { createServerStack, loadStackConfig } from "../lib/program";
import { resolveServices } from "../lib/resolve";
import { evaluateStack } from "../cli/evaluate";
import { STACK_NAMES, referenceConfig } from "./helpers";
import { referenceRaw } from "./fixtures/broken";

const KEYS = Object.keys(CONFIG_KEYS);
const SERVICES = ["immich", "immich-db", "immich-redis", "vaultwarden", "home-assistant", "mail"];

/** Values a config key may plausibly be given, and anything at all. */
const plausible = fc.oneof(
  fc.constantFrom(
    "",
    "0",
    "-1",
    "22",
    "65536",
    "true",
    "false",
    "yes",
    "null",
    "[]",
    "{}",
    '["*"]',
    '["cloud"]',
    '["home","home"]',
    "0 3 * * *",
    "61 3 * * *",
    "0 0 4 * * *",
    "home.example.com",
    "Home",
    "a@b.c",
    "dns",
    "http",
    "cloud",
    "tcp://h:1",
    "ntfy:https://ntfy.sh/x",
    "email:a@b.c",
    "x:y:read-only",
    "nginx:latest",
    "__proto__",
    "constructor",
  ),
  fc.string(),
  fc.json(),
  fc.anything(),
);
const key = fc.oneof(
  fc.constantFrom(...KEYS),
  fc.constantFrom("__proto__", "constructor", "toString"),
  fc.string(),
);
const override = fc.dictionary(
  fc.oneof(fc.constantFrom(...OVERRIDE_KEYS), fc.string()),
  fc.oneof(
    plausible,
    fc.dictionary(fc.oneof(fc.constantFrom("TZ", "__proto__", "BAD-NAME"), fc.string()), plausible),
  ),
  { maxKeys: 4 },
);
const services = fc.dictionary(
  fc.oneof(fc.constantFrom(...SERVICES), fc.string()),
  fc.oneof(override, plausible),
  {
    maxKeys: 3,
  },
);

/** Either a value or a ConfigError with a header and one `path: message` line per problem. */
function parsesOrConfigError(run: () => unknown): void {
  try {
    run();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const [header, ...lines] = e.message.split("\n");
    expect(header).toMatch(
      /^Invalid configuration for stack "[^"]+" \(Pulumi\.[^)]+\.yaml\), \d+ problems?:$/,
    );
    expect(lines.length).toBe(e.problems.length);
    expect(e.problems.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^ {2}\S[^\n]*: \S/);
  }
}

describe("the config parser", () => {
  it("any values: a config or a ConfigError, never another exception", () => {
    fc.assert(
      fc.property(
        fc.dictionary(key, plausible, { maxKeys: 12 }),
        fc.subarray([...SECRET_KEYS]),
        fc.array(fc.oneof(fc.constantFrom(...SERVICES), fc.string()), { maxLength: 4 }),
        (values, secretsPresent, serviceNames) => {
          parsesOrConfigError(() =>
            parseStackConfig({ values, secretsPresent }, { stack: "home", serviceNames }),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("a reference config with any keys replaced: a config or a ConfigError, through every layer", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...STACK_NAMES),
        fc.dictionary(key, plausible, { maxKeys: 4 }),
        fc.option(services, { nil: undefined }),
        (stack, replaced, overrides) => {
          const raw = referenceRaw(stack);
          Object.assign(raw.values, replaced);
          if (overrides !== undefined) raw.values.services = JSON.stringify(overrides) ?? "";
          parsesOrConfigError(() => loadStackConfig(stack, raw));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("service overrides of any shape: a config or a ConfigError", () => {
    fc.assert(
      fc.property(services, (overrides) => {
        const raw = referenceRaw("home");
        raw.values.services = overrides;
        parsesOrConfigError(() => loadStackConfig("home", raw));
      }),
      { numRuns: 500 },
    );
  });
});

/** Well-typed declarations with values drawn near the edges: what stacks/<server>.ts may hold. */
const label = fc.oneof(
  fc.constantFrom("app", "db", "www", "status", "traefik", "a-b", "App", "", "x".repeat(64)),
  fc.string({ maxLength: 8 }),
);
const port = fc.oneof(
  fc.constantFrom(0, 1, 25, 80, 443, 22000, 65535, 65536, -1, 1.5),
  fc.integer(),
);
const cron = fc.oneof(
  fc.constantFrom("0 3 * * *", "61 3 * * *", "*/0 * * * *", "1-0 * * * *", "", "daily"),
  fc.string({ maxLength: 12 }),
);
const spec = fc.record(
  {
    name: label,
    image: fc.constantFrom(
      "nginx:1.29",
      "nginx",
      "nginx:latest",
      "Nginx:1",
      `x@sha256:${"a".repeat(64)}`,
    ),
    group: label,
    env: fc.dictionary(
      fc.oneof(fc.constantFrom("A", "BAD-NAME", "__proto__"), fc.string({ maxLength: 6 })),
      fc.oneof(fc.string({ maxLength: 6 }), fc.record({ secret: label })),
    ),
    volumes: fc.array(
      fc.record(
        {
          name: label,
          path: fc.constantFrom("/data", "data", "/"),
          kind: fc.constantFrom("data", "cache", "temp"),
        },
        { requiredKeys: ["name", "path"] },
      ),
      { maxLength: 3 },
    ),
    http: fc.record(
      {
        port,
        subdomain: label,
        healthPath: fc.constantFrom("/", "/health"),
        expectStatus: fc.constantFrom(200, 401),
        admin: fc.boolean(),
      },
      { requiredKeys: ["port"] },
    ),
    ports: fc.array(
      fc.record(
        {
          port,
          hostPort: port,
          protocol: fc.constantFrom("tcp", "udp", "sctp"),
          check: fc.constantFrom("tcp", "tls", "starttls", "none", "smtp"),
        },
        { requiredKeys: ["port"] },
      ),
      { maxLength: 3 },
    ),
    backup: fc.record(
      {
        enabled: fc.boolean(),
        schedule: cron,
        skipVolumes: fc.array(label, { maxLength: 2 }),
        dump: fc.record({ command: fc.constant("pg_dump"), filename: fc.constant("db.sql") }),
        verifyFiles: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
        keepDaily: port,
      },
      { requiredKeys: [] },
    ),
    updates: fc.constantFrom("pinned", "notify", "auto"),
    dependsOn: fc.array(label, { maxLength: 2 }),
  },
  { requiredKeys: ["name", "image"] },
);

describe("the declaration resolver", () => {
  it("any well-typed declaration: resolved services or a ConfigError", () => {
    const config = loadStackConfig("cloud", referenceRaw("cloud")).config;
    fc.assert(
      fc.property(
        fc.array(spec, { maxLength: 4 }),
        fc.array(label, { maxLength: 2 }),
        (services, secrets) => {
          parsesOrConfigError(() =>
            resolveServices({ role: "test", services: services as ServiceSpec[], secrets }, config),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });
});

/** Runs the program's entry (what index.ts does) under recording mocks; returns what registered. */
async function registeredBy(stack: string, { config, secretKeys }: ProgramConfig) {
  const recorded: string[] = [];
  const state: Record<string, Record<string, string>> = {
    "random:index/randomBytes:RandomBytes": { base64: Buffer.alloc(32, 7).toString("base64") },
    "random:index/randomPassword:RandomPassword": {
      result: "p".repeat(32),
      bcryptHash: "$2a$10$p",
    },
  };
  await pulumi.runtime.setMocks(
    {
      newResource(a) {
        recorded.push(`${a.type}::${a.name}`);
        return { id: `${a.name}-id`, state: { ...a.inputs, ...state[a.type] } };
      },
      call(a) {
        throw new Error(`unmocked invoke ${a.token}`);
      },
    },
    "homelab",
    stack,
    false,
    "organization",
  );
  pulumi.runtime.setAllConfig(config, secretKeys);
  let error: unknown;
  try {
    createServerStack(stack, "homelab");
  } catch (e) {
    error = e;
  }
  await (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs?.();
  return { recorded, error };
}

describe("an invalid config registers nothing", () => {
  it("the recording harness sees every resource of a valid config", async () => {
    // offsite with both peers pending reads no stack reference, so plain mocks suffice.
    const config = referenceConfig("offsite", { pendingPeers: ["home", "cloud"] });
    const { recorded, error } = await registeredBy("offsite", config);
    expect(error).toBeUndefined();
    expect(recorded).toContain("docker:index/container:Container::offsite-traefik-container");
    expect(recorded.length).toBeGreaterThan(20);
  });

  it("any invalid config: ConfigError from the entry and from evaluation, and no resource", async () => {
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...STACK_NAMES),
        fc.dictionary(fc.constantFrom(...KEYS), plausible, { minKeys: 1, maxKeys: 3 }),
        async (stack, replaced) => {
          const overrides = Object.fromEntries(
            Object.entries(replaced).map(([k, v]) => [
              k,
              typeof v === "string" ? v : (JSON.stringify(v) ?? ""),
            ]),
          );
          // As with `--skip-config-validation`: the CLI checks no type, the program must.
          const config = referenceConfig(stack, overrides, { validate: false });
          const raw = referenceRaw(stack, overrides, { validate: false });
          let invalid = false;
          try {
            loadStackConfig(stack, raw);
          } catch (e) {
            invalid = e instanceof ConfigError;
          }
          fc.pre(invalid);
          rejected++;
          const { recorded, error } = await registeredBy(stack, config);
          expect(error).toBeInstanceOf(ConfigError);
          expect(recorded).toEqual([]);
          await expect(evaluateStack(stack, config)).rejects.toBeInstanceOf(ConfigError);
        },
      ),
      { numRuns: 60 },
    );
    expect(rejected).toBeGreaterThanOrEqual(30);
  });
});
