/**
 * The config reference (Pulumi.yaml) and the parser: same keys, same defaults, and one error
 * listing every problem with its path.
 */
import Ajv from "ajv";
import Ajv2020 from "ajv/dist/2020";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { backupProxyName, usesDockerApi } from "../configs/docker-proxy";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SYSTEM_CONTAINERS, SYSTEM_VOLUMES } from "../components/defaults";
import { CONFIG_KEYS, ConfigError, KeySpec, parseStackConfig } from "../lib/config";
import type { ServerDeclaration } from "../lib/model";
import { resolveServices } from "../lib/resolve";
import { loadStackConfig } from "../lib/program";
import { ROOT, T, evaluateReference, ofType, referenceFleet } from "./helpers";

const project = parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8"));

/** The JSON Schemas are vendored in test/schemas/ (sources, commits, licences: its README.md). */
const readSchema = (file: string) =>
  JSON.parse(readFileSync(join(ROOT, "test", "schemas", file), "utf8"));

/**
 * Pulumi's own project-file schema: `sdk/go/common/workspace/project.json` in github:pulumi/pulumi
 * at commit 1b5949891b3cefcb9974752b24a5ecef0acc86c8 (Apache-2.0). The CLI embeds it
 * (`//go:embed project.json` in project.go) and checks every Pulumi.yaml against it before
 * anything else (`ValidateProject`), so it is the authority on what a project file may say.
 * Draft 2020-12; `strictTypes: false` only quiets ajv's notes on the upstream file's style (union
 * types, `properties` without `type: object`), every keyword is still compiled strictly.
 */
const pulumiProjectSchema = new Ajv2020({ allErrors: true, strictTypes: false }).compile(
  readSchema("pulumi-project.json"),
);

/** Every Pulumi.yaml of the repository, relative to it (node_modules and dot-directories aside). */
function projectFiles(dir = ROOT, rel = ""): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? e.name === "node_modules" || e.name.startsWith(".")
          ? []
          : projectFiles(join(dir, e.name), rel ? `${rel}/${e.name}` : e.name)
        : e.name === "Pulumi.yaml"
          ? [rel ? `${rel}/${e.name}` : e.name]
          : [],
    )
    .sort();
}

describe("Pulumi.yaml", () => {
  it("is valid against SchemaStore's pulumi.json, except for its older list of config types", () => {
    const schema = readSchema("pulumi.json");
    delete schema.$schema;
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    // SchemaStore's copy is older than Pulumi's own schema: its `simpleConfigType` is
    // string|integer|boolean|array, without the "object" that Pulumi's project.json and the CLI
    // accept (`ValidateConfigValue`, sdk/go/common/workspace/project.go). Pulumi's own schema,
    // checked in the next test, is the authority; against SchemaStore's everything else is
    // checked, with only the `type: object` of those keys taken out.
    const config = project.config as Record<string, Record<string, unknown>>;
    const objectKeys = Object.keys(config).filter((k) => config[k]!.type === "object");
    expect(objectKeys).toEqual(["services"]);
    expect(validate(project)).toBe(false);
    expect(
      [...new Set(validate.errors!.map((e) => e.instancePath.split("/").slice(0, 3).join("/")))],
      "SchemaStore's schema rejects nothing but the object-typed keys",
    ).toEqual(objectKeys.map((k) => `/config/${k}`));
    const older = structuredClone(project);
    for (const k of objectKeys) delete older.config[k].type;
    expect(validate(older), JSON.stringify(validate.errors)).toBe(true);
    // tsx, not the SDK's ts-node: see the comment in Pulumi.yaml and docs/plan.md.
    expect(project.runtime).toEqual({
      name: "nodejs",
      options: { typescript: false, nodeargs: "--import tsx", packagemanager: "npm" },
    });
  });

  it("every Pulumi.yaml of the repository is valid against Pulumi's own project schema", () => {
    const files = projectFiles();
    expect(files).toEqual(["Pulumi.yaml", "deploy/Pulumi.yaml"]);
    for (const f of files) {
      const doc = parse(readFileSync(join(ROOT, f), "utf8"));
      expect(pulumiProjectSchema(doc), `${f}: ${JSON.stringify(pulumiProjectSchema.errors)}`).toBe(
        true,
      );
    }
  });

  it("Pulumi's project schema rejects a bad declaration (the check can fail)", () => {
    const errorsOf = (change: (doc: any) => void) => {
      const doc = structuredClone(project);
      change(doc);
      expect(pulumiProjectSchema(doc)).toBe(false);
      return pulumiProjectSchema.errors!.map((e) => ({
        instancePath: e.instancePath,
        keyword: e.keyword,
        params: e.params,
      }));
    };
    // A config type the CLI does not know.
    expect(errorsOf((d) => (d.config.sshPort.type = "float"))).toContainEqual({
      instancePath: "/config/sshPort/type",
      keyword: "enum",
      params: { allowedValues: ["string", "integer", "boolean", "array", "object"] },
    });
    // A misspelt attribute of a config declaration.
    expect(
      errorsOf((d) => {
        d.config.sshPort.defualt = d.config.sshPort.default;
        delete d.config.sshPort.default;
      }),
    ).toContainEqual({
      instancePath: "/config/sshPort",
      keyword: "additionalProperties",
      params: { additionalProperty: "defualt" },
    });
    // A misspelt runtime attribute (`option` for `options`).
    expect(
      errorsOf((d) => {
        d.runtime.option = d.runtime.options;
        delete d.runtime.options;
      }),
    ).toContainEqual({
      instancePath: "/runtime",
      keyword: "additionalProperties",
      params: { additionalProperty: "option" },
    });
    // What the schema does not see: the runtime's own options are free-form
    // (`"additionalProperties": true`), the language host reads them.
    const misspeltOption = structuredClone(project);
    misspeltOption.runtime.options.typescirpt = true;
    expect(pulumiProjectSchema(misspeltOption)).toBe(true);
  });

  it("declares every key of the parser with its type, description and default, and nothing else", () => {
    const declared = project.config as Record<string, Record<string, unknown>>;
    expect(Object.keys(declared).sort()).toEqual(Object.keys(CONFIG_KEYS).sort());
    for (const [key, spec] of Object.entries(CONFIG_KEYS) as [string, KeySpec][]) {
      const d = declared[key]!;
      expect(d.description, key).toBe(spec.description);
      expect(d.default, key).toEqual(spec.default);
      // Optional secrets carry no `secret: true` (pulumi/pulumi#21865); the parser enforces it.
      expect(d.secret, key).toBeUndefined();
      // Every key, `services` (type: object) included, carries the parser's type.
      expect(d.type, key).toBe(spec.type);
    }
  });

  it("every stack file sets only declared keys (or provider keys)", () => {
    for (const stack of ["home", "cloud", "offsite"]) {
      const doc = parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
      for (const key of Object.keys(doc.config)) {
        if (key.startsWith("homelab:"))
          expect(Object.keys(CONFIG_KEYS), key).toContain(key.slice(8));
        else expect(key).toBe("pulumi:disable-default-providers");
      }
      expect(doc.config["pulumi:disable-default-providers"]).toEqual(["docker"]);
    }
  });
});

const base = {
  host: "home.example.net",
  domain: "home.example.com",
  acmeEmail: "admin@example.com",
};
const ctx = { stack: "home", serviceNames: ["immich", "vaultwarden"] };
const problems = (values: Record<string, unknown>, secretsPresent: string[] = []) => {
  try {
    parseStackConfig({ values, secretsPresent }, ctx);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return "no error";
};

describe("parseStackConfig", () => {
  it("fills every default", () => {
    const c = parseStackConfig({ values: base, secretsPresent: [] }, ctx);
    expect(c).toMatchObject({
      ssh: { user: "deploy", port: 22, opts: [] },
      org: "", // this stack's own organization, resolved when the peers are read
      peers: [],
      acme: { challenge: "http", staging: false, email: "admin@example.com" },
      backup: {
        schedule: "0 3 * * *",
        keepDaily: 7,
        keepWeekly: 4,
        keepMonthly: 6,
        replicateTo: [],
      },
      syncthing: { address: "", relays: false, globalDiscovery: false },
      gatusPublic: false,
      services: {},
    });
  });

  it("accepts values as Pulumi hands them over (strings, JSON text)", () => {
    const c = parseStackConfig(
      {
        values: {
          ...base,
          sshPort: "2222",
          acmeStaging: "true",
          peers: '["cloud"]',
          services: '{"immich":{"keepDaily":3}}',
        },
        secretsPresent: [],
      },
      ctx,
    );
    expect(c.ssh.port).toBe(2222);
    expect(c.acme.staging).toBe(true);
    expect(c.peers).toEqual(["cloud"]);
    expect(c.backup.replicateTo).toEqual(["cloud"]);
    expect(c.services).toEqual({ immich: { keepDaily: 3 } });
  });

  it("lists every problem at once, with paths, what was expected and what was given", () => {
    expect(
      problems({
        domain: "Home",
        sshPort: "80a",
        acmeChallenge: "tls",
        peers: ["cloud", "cloud"],
        services: { imich: { keepDaily: 3 }, vaultwarden: { keepDaily: -1, updatez: "auto" } },
      }),
    ).toBe(
      [
        'Invalid configuration for stack "home" (Pulumi.home.yaml), 8 problems:',
        "  host: required; run pulumi config set host <value>",
        '  domain: expected a lower-case domain like home.example.com, got "Home"',
        '  sshPort: expected an integer 1-65535, got "80a"',
        '  peers[1]: duplicate "cloud"',
        "  acmeEmail: required; run pulumi config set acmeEmail <value>",
        '  acmeChallenge: expected one of "http", "dns", got "tls"',
        '  services.imich: no service "imich" on this server (did you mean "immich"?); services: immich, vaultwarden; to declare a new service here, give it an image',
        '  services.vaultwarden.updatez: unknown key (did you mean "updates"?); allowed: enabled, image, env, subdomain, updates, backupSchedule, keepDaily, keepWeekly, keepMonthly',
        "  services.vaultwarden.keepDaily: expected an integer 0-1000, got -1",
      ]
        .join("\n")
        .replace("8 problems", "9 problems"),
    );
  });

  it("never shows a secret, and insists secrets are set with --secret", () => {
    const msg = problems({
      ...base,
      acmeChallenge: "dns",
      acmeDnsProvider: "cloudflare",
      acmeDnsToken: "<plaintext>",
    });
    expect(msg).toBe(
      [
        'Invalid configuration for stack "home" (Pulumi.home.yaml), 1 problem:',
        "  acmeDnsToken: must be a secret: it is in plain text in Pulumi.home.yaml; remove it there (and rotate it if the file was shared) and run pulumi config set --secret acmeDnsToken <value>",
      ].join("\n"),
    );
    expect(
      problems({ ...base, acmeChallenge: "dns", acmeDnsProvider: "cloudflare" }, ["acmeDnsToken"]),
    ).toBe("no error");
    expect(
      problems({ ...base, acmeChallenge: "dns", acmeDnsProvider: "exotic-dns" }, ["acmeDnsToken"]),
    ).toBe(
      'Invalid configuration for stack "home" (Pulumi.home.yaml), 1 problem:\n' +
        '  acmeDnsTokenEnv: required for DNS provider "exotic-dns": name the variable its token goes in',
    );
  });

  it("unknown top-level keys get a did-you-mean", () => {
    expect(problems({ ...base, domian: "x" })).toBe(
      'Invalid configuration for stack "home" (Pulumi.home.yaml), 1 problem:\n  domian: unknown key (did you mean "domain"?)',
    );
  });
});

describe("the layers", () => {
  it("an override naming a subdomain already taken is reported against the override", async () => {
    const err = await evaluateReference("home", {
      overrides: { services: { immich: { subdomain: "vault" } } },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      'Invalid configuration for stack "home" (Pulumi.home.yaml), 1 problem:\n' +
        '  services.vaultwarden.subdomain: "vault.home.example.com" is already taken by immich',
    );
  });

  it("a bad stack config registers no resource at all", async () => {
    const err = await evaluateReference("cloud", { overrides: { domain: "not a domain" } }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain(
      'domain: expected a lower-case domain like home.example.com, got "not a domain"',
    );
  });

  it("a stack without stacks/<name>.ts is a server of its stack file alone (issue 13)", () => {
    const { declaration, services } = loadStackConfig("garage", {
      values: base,
      secretsPresent: [],
    });
    expect(declaration).toEqual({ role: "standard components", services: [], secrets: [] });
    expect(services).toEqual([]);
  });

  it("disabling a service another depends on is an error", async () => {
    const err = await evaluateReference("home", {
      overrides: { services: { "immich-db": { enabled: false } } },
    }).catch((e) => e);
    expect(err.message).toBe(
      'Invalid configuration for stack "home" (Pulumi.home.yaml), 1 problem:\n' +
        '  services.immich.dependsOn: "immich-db" is disabled in Pulumi.home.yaml; enable it or disable immich too',
    );
  });

  it("home's real config evaluates", async () => {
    const e = await evaluateReference("home");
    expect(ofType(e, "docker:index/container:Container").length).toBe(16);
  });
});

describe("names that are global on a Docker host", () => {
  const decl = (services: ServerDeclaration["services"]): ServerDeclaration => ({
    role: "test",
    services,
  });
  const cfg = parseStackConfig(
    { values: base, secretsPresent: [] },
    { stack: "home", serviceNames: [] },
  );
  const resolveError = (d: ServerDeclaration) => {
    try {
      resolveServices(d, cfg);
    } catch (e) {
      if (e instanceof ConfigError)
        return e.message
          .split("\n")
          .slice(1)
          .map((l) => l.trim());
      throw e;
    }
    return [];
  };

  it("the standard components' container and volume names are what the resolver reserves", async () => {
    const { evaluations } = await referenceFleet();
    const containers = new Set<string>();
    const volumes = new Set<string>();
    for (const e of Object.values(evaluations)) {
      const own = new Set(
        [
          ...loadStackConfig(e.stack, {
            values: { ...base, domain: "x.example.com" },
            secretsPresent: [],
          }).services,
        ].flatMap((s) => [
          s.name,
          `${s.name}-backup`,
          // A stop or hook capture's own Docker API proxy (components/backup-proxy.ts).
          ...(s.backup && usesDockerApi(s.backup.capture.kind) ? [backupProxyName(s.name)] : []),
          ...s.volumes.map((v) => `${s.name}-${v.name}`),
        ]),
      );
      for (const r of ofType(e, T.container))
        if (!own.has(String(r.inputs.name))) containers.add(String(r.inputs.name));
      for (const r of ofType(e, T.volume))
        if (!own.has(String(r.inputs.name))) volumes.add(String(r.inputs.name));
    }
    expect([...containers].sort()).toEqual([...SYSTEM_CONTAINERS]);
    expect([...volumes].sort()).toEqual([...SYSTEM_VOLUMES]);
  });

  it("a service may not take a standard container, another's sidecar or another's volume name", () => {
    expect(
      resolveError(
        decl([
          { name: "gatus", image: "x/gatus:1" },
          {
            name: "photos",
            image: "x/p:1",
            volumes: [{ name: "db-data", path: "/d" }],
            backup: { capture: "files" },
          },
          {
            name: "photos-db",
            image: "x/db:1",
            volumes: [{ name: "data", path: "/v" }],
            backup: { capture: "files" },
          },
          { name: "photos-backup", image: "x/b:1" },
        ]),
      ),
    ).toEqual([
      'services.gatus: container name "gatus" is already taken by a standard component; rename the service',
      'services.photos-db.volumes.data: Docker volume "photos-db-data" is already used by service photos; rename the volume',
      'services.photos-backup: container name "photos-backup" is already taken by service photos; rename the service',
    ]);
  });

  it("groups are DNS labels and not the standard networks; dependsOn may not loop", () => {
    expect(
      resolveError(
        decl([
          { name: "a", image: "x/a:1", group: "proxy", dependsOn: ["b"] },
          { name: "b", image: "x/b:1", group: "My DB", dependsOn: ["c"] },
          { name: "c", image: "x/c:1", dependsOn: ["a"] },
        ]),
      ),
    ).toEqual([
      'services.a.group: expected a lower-case DNS label other than "proxy", "socket", got "proxy"',
      'services.b.group: expected a lower-case DNS label other than "proxy", "socket", got "My DB"',
      "services.a.dependsOn: cycle a → b → c → a; remove one of these dependencies",
    ]);
  });
});
