/**
 * Issue 13: a whole service declared in `Pulumi.<server>.yaml` (`homelab:services.<name>` with
 * an image) is the same service as one declared in `stacks/<server>.ts`: the same resources,
 * monitors and backup, and for a bad value the same message, since both go through
 * lib/resolve.ts and lib/rules.ts.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Evaluation, evaluateStack, reveal } from "../cli/evaluate";
import { programConfigFor } from "../lib/cli-config";
import type { ServiceSpec } from "../lib/model";
import { loadStackConfig, rawConfigOf } from "../lib/program";
import { ROOT, T, container, envs, headerSecrets, ofType } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "homelab-services-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
cpSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
// lab: offsite's stack file renamed, a server without stacks/lab.ts, that replicates its own.
writeFileSync(
  join(dir, "Pulumi.lab.yaml"),
  readFileSync(join(ROOT, "Pulumi.offsite.yaml"), "utf8")
    .replaceAll("offsite", "lab")
    .replace("homelab:backupReplicateTo: []", 'homelab:backupReplicateTo: ["*"]')
    .replace("homelab:trust: storage", "homelab:trust: full"),
);

/** Every field of the declaration, over three services (an app, its database, a cache). */
const SERVICES: ServiceSpec[] = [
  {
    name: "paperless",
    description: "Paperless document archive",
    image: "ghcr.io/paperless-ngx/paperless-ngx:2.18.4",
    group: "paperless",
    http: { port: 8000, subdomain: "docs", healthPath: "/api/", expectStatus: 302, admin: true },
    env: {
      PAPERLESS_DBHOST: "paperless-db",
      PAPERLESS_DBPASS: { secret: "paperless-db-password" },
      PAPERLESS_OCR_LANGUAGE: "deu",
    },
    volumes: [
      { name: "data", path: "/usr/src/paperless/data" },
      { name: "media", path: "/usr/src/paperless/media" },
      { name: "thumbs", path: "/tmp/thumbs", kind: "cache" },
    ],
    ports: [{ port: 2525, hostPort: 2525, protocol: "tcp", check: "tcp" }],
    command: ["/sbin/docker-entrypoint.sh", "/usr/local/bin/supervisord"],
    user: "1000:1000",
    backup: {
      capture: "files",
      schedule: "30 2 * * *",
      verifyFiles: ["data/celerybeat-schedule.db"],
      keepDaily: 14,
      keepWeekly: 8,
      keepMonthly: 12,
    },
    updates: "pinned",
    dependsOn: ["paperless-db", "paperless-redis"],
  },
  {
    name: "paperless-db",
    description: "Postgres of Paperless",
    image: "docker.io/library/postgres:17.6",
    group: "paperless",
    env: { POSTGRES_PASSWORD: { secret: "paperless-db-password" }, POSTGRES_USER: "paperless" },
    volumes: [{ name: "pgdata", path: "/var/lib/postgresql/data" }],
    backup: {
      capture: "dump",
      skipVolumes: ["pgdata"],
      dump: {
        command: "pg_dump -h paperless-db -U paperless paperless",
        filename: "paperless.sql",
        packages: ["postgresql17-client"],
        env: { PGPASSWORD: { secret: "paperless-db-password" } },
      },
    },
  },
  {
    name: "paperless-redis",
    image: "docker.io/library/redis:8.2",
    group: "paperless",
    updates: "notify",
  },
];
const SECRETS = ["paperless-db-password"];

/** The services as the stack file holds them: by name, every other field as written. */
function asStackFile(services: ServiceSpec[]): Record<string, unknown> {
  return Object.fromEntries(services.map(({ name, ...rest }) => [name, rest]));
}

const config = (values: Record<string, unknown>) =>
  programConfigFor(dir, "lab", {
    secrets: headerSecrets("offsite"),
    values: { role: "documents", ...values },
  });
const fromStackFile = (services = SERVICES) =>
  config({ services: asStackFile(services), secrets: SECRETS });
const fromCode = (services = SERVICES) => ({
  config: config({}),
  declare: () => ({ role: "documents", services, secrets: SECRETS }),
});

describe("a service declared in the stack file", () => {
  let yaml: Evaluation;
  let code: Evaluation;
  it("plans: the same resources, inputs and options as the same declaration in TypeScript", async () => {
    yaml = await evaluateStack("lab", fromStackFile(), { quiet: true });
    const c = fromCode();
    code = await evaluateStack("lab", c.config, { quiet: true, declare: c.declare });
    const all = (e: Evaluation) =>
      e.resources
        .map((r) => JSON.stringify([r.type, r.name, reveal(r.inputs), r.options, r.provider]))
        .sort();
    expect(all(yaml)).toEqual(all(code));
    expect(JSON.stringify(reveal(yaml.outputs))).toBe(JSON.stringify(reveal(code.outputs)));
    expect(
      ofType(yaml, T.service)
        .map((r) => r.name)
        .sort(),
    ).toEqual(["lab-paperless", "lab-paperless-db", "lab-paperless-redis"]);
  });

  it("is monitored and backed up: its endpoint is published, its backup replicated", () => {
    const endpoints = reveal(yaml.outputs.endpoints) as { name: string; url: string }[];
    expect(endpoints.map((e) => [e.name, e.url])).toEqual(
      expect.arrayContaining([
        ["paperless", "https://docs.lab.example.com/api/"],
        ["paperless-tcp-2525", "tcp://docs.lab.example.com:2525"],
      ]),
    );
    const backups = reveal(yaml.outputs.backups) as { service: string }[];
    expect(backups.map((b) => b.service).sort()).toEqual(["paperless", "paperless-db"]);
    // The generated secret reached the container as a secret, never as text.
    const env = envs(container(yaml, "paperless"));
    expect(env.secretNames).toEqual(["PAPERLESS_DBPASS"]);
    container(yaml, "paperless-backup");
    container(yaml, "paperless-db-backup");
  });

  it("enabled: false leaves it out", async () => {
    const e = await evaluateStack(
      "lab",
      config({
        services: {
          ...asStackFile(SERVICES.slice(2)),
          "paperless-redis": {
            ...(asStackFile(SERVICES.slice(2))["paperless-redis"] as object),
            enabled: false,
          },
        },
      }),
      { quiet: true },
    );
    expect(ofType(e, T.container).map((c) => c.inputs.name)).not.toContain("paperless-redis");
  });
});

/** The ConfigError message of loading `lab`, or "" when it loads. */
function messageOf(run: () => unknown): string {
  try {
    run();
    return "";
  } catch (e) {
    return (e as Error).message;
  }
}
const load = (c: { config: { config: Record<string, string>; secretKeys: string[] } }) =>
  rawConfigOf("homelab", c.config.config, (k) => c.config.secretKeys.includes(k));

/** A copy of SERVICES with `edit` applied to the named service. */
function breaking(name: string, edit: (s: Record<string, unknown>) => void): ServiceSpec[] {
  const copy = structuredClone(SERVICES);
  edit(copy.find((s) => s.name === name) as unknown as Record<string, unknown>);
  return copy;
}

describe("a bad service gets the same message from the stack file as from TypeScript", () => {
  const cases: [string, ServiceSpec[], string][] = [
    [
      "a port out of range",
      breaking("paperless", (s) => ((s.http as { port: number }).port = 70000)),
      "services.paperless.http.port: expected an integer 1-65535, got 70000",
    ],
    [
      "a subdomain with a dot",
      breaking("paperless", (s) => ((s.http as { subdomain: string }).subdomain = "docs.x")),
      "services.paperless.http.subdomain: expected one DNS label",
    ],
    [
      "an image without a tag",
      breaking("paperless-redis", (s) => (s.image = "redis")),
      'services.paperless-redis.image: expected an image reference with a tag, got "redis"',
    ],
    [
      "an unknown secret",
      breaking(
        "paperless-db",
        (s) =>
          ((s.env as Record<string, unknown>).POSTGRES_PASSWORD = {
            secret: "paperless-db-pasword",
          }),
      ),
      'services.paperless-db.env.POSTGRES_PASSWORD: unknown secret "paperless-db-pasword" (did you mean "paperless-db-password"?); declare it in secrets',
    ],
    [
      "an unknown dependency",
      breaking("paperless", (s) => (s.dependsOn = ["paperless-dbb"])),
      'services.paperless.dependsOn: unknown service "paperless-dbb" (did you mean "paperless-db"?)',
    ],
    [
      "a relative volume path",
      breaking("paperless", (s) => ((s.volumes as { path: string }[])[0]!.path = "data")),
      'services.paperless.volumes[0].path: expected an absolute path, got "data"',
    ],
    [
      "a misspelt volume kind",
      breaking("paperless", (s) => ((s.volumes as { kind: string }[])[2]!.kind = "cash")),
      'services.paperless.volumes[2].kind: expected one of "data", "cache", got "cash"',
    ],
    [
      "a verify file outside the backup",
      breaking(
        "paperless",
        (s) => ((s.backup as { verifyFiles: string[] }).verifyFiles = ["thumbs/x"]),
      ),
      'services.paperless.backup.verifyFiles[0]: "thumbs/x" is not in a backed-up data volume',
    ],
    [
      "a retention of -1",
      breaking("paperless", (s) => ((s.backup as { keepDaily: number }).keepDaily = -1)),
      "services.paperless.backup.keepDaily: expected an integer 0-1000, got -1",
    ],
    [
      "a bad cron",
      breaking("paperless", (s) => ((s.backup as { schedule: string }).schedule = "daily")),
      'services.paperless.backup.schedule: expected a 5-field cron schedule like "0 3 * * *", got "daily"',
    ],
    [
      "a reserved group",
      breaking("paperless-redis", (s) => (s.group = "proxy")),
      "services.paperless-redis.group: expected a lower-case DNS label other than",
    ],
    [
      "a host port of Traefik",
      breaking("paperless", (s) => ((s.ports as { hostPort: number }[])[0]!.hostPort = 443)),
      "services.paperless.ports: host port 443/tcp is already published by traefik",
    ],
    [
      "a dependency cycle",
      breaking("paperless-redis", (s) => (s.dependsOn = ["paperless"])),
      "services.paperless.dependsOn: cycle paperless → paperless-redis → paperless",
    ],
    [
      "a bad dump package",
      breaking(
        "paperless-db",
        (s) => ((s.backup as { dump: { packages: string[] } }).dump.packages = ["-X"]),
      ),
      "services.paperless-db.backup.dump.packages[0]: expected an Alpine package name",
    ],
    [
      "a taken subdomain",
      breaking("paperless", (s) => ((s.http as { subdomain: string }).subdomain = "status")),
      'services.paperless.subdomain: "status.lab.example.com" is already taken by gatus',
    ],
  ];
  it.each(cases)("%s", (_, services, expected) => {
    const c = fromCode(services);
    const code = messageOf(() => loadStackConfig("lab", load(c), c.declare));
    const yaml = messageOf(() => loadStackConfig("lab", load({ config: fromStackFile(services) })));
    expect(code).toContain(expected);
    expect(yaml).toBe(code);
  });
});

describe("what only the stack file can get wrong", () => {
  const yamlMessage = (services: Record<string, unknown>, values: Record<string, unknown> = {}) =>
    messageOf(() =>
      loadStackConfig("lab", load({ config: config({ services, secrets: SECRETS, ...values }) })),
    );

  it("a name with no image and no service of that name: the fix is named", () => {
    expect(yamlMessage({ paperles: { env: { A: "b" } } })).toBe(
      'Invalid configuration for stack "lab" (Pulumi.lab.yaml), 1 problem:\n' +
        '  services.paperles: no service "paperles" on this server; stacks/lab.ts declares none; to declare a new service here, give it an image',
    );
  });

  it("shapes: unknown keys with a hint, lists and objects where they belong", () => {
    const msg = yamlMessage({
      app: {
        image: "nginx:1.29",
        htpp: { port: 80 },
        volumes: "data",
        env: { A: ["x"] },
        backup: { dump: "pg_dump" },
        updates: "sometimes",
      },
    });
    expect(msg).toContain('services.app.htpp: unknown key (did you mean "http"?)');
    expect(msg).toContain('services.app.volumes: expected a list, got "data"');
    expect(msg).toContain('services.app.env.A: expected a string or { secret: <name> }, got ["x"]');
    expect(msg).toContain('services.app.backup.dump: expected an object, got "pg_dump"');
    expect(msg).toContain(
      'services.app.updates: expected one of "pinned", "notify", "auto", got "sometimes"',
    );
  });

  it("secrets: names, each once", () => {
    expect(yamlMessage({}, { secrets: ["Bad Name", "x", "x"] })).toBe(
      'Invalid configuration for stack "lab" (Pulumi.lab.yaml), 2 problems:\n' +
        '  secrets[0]: expected a secret name (lower-case letters, digits and "-", starting with a letter), got "Bad Name"\n' +
        '  secrets[2]: duplicate secret "x"',
    );
  });

  it("a service of stacks/<server>.ts stays an override (an image there is a newer tag)", () => {
    const home = programConfigFor(ROOT, "home", {
      secrets: headerSecrets("home"),
      values: { services: { vaultwarden: { image: "vaultwarden/server:1.35.0" } } },
    });
    const { services } = loadStackConfig("home", load({ config: home }));
    const vw = services.filter((s) => s.name === "vaultwarden");
    expect(vw).toHaveLength(1);
    expect(vw[0]!.image).toBe("vaultwarden/server:1.35.0");
    expect(vw[0]!.http?.subdomain).toBe("vault");
  });
});

describe("a misspelt override with an image", () => {
  it("becomes a new service, and the plan warns with the name it was probably meant for", async () => {
    const e = await evaluateStack(
      "home",
      programConfigFor(ROOT, "home", {
        secrets: headerSecrets("home"),
        values: { services: { imich: { image: "ghcr.io/immich-app/immich-server:v1.136.0" } } },
      }),
      { quiet: true },
    );
    expect(e.warnings).toContain(
      'services.imich: declared in Pulumi.home.yaml as a new service, since stacks/home.ts has no "imich" (did you mean "immich"?); to override that one, fix the name',
    );
  });
});
