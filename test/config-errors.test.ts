/**
 * Bad input is harmless: malformed stack configs and declarations each end in one ConfigError
 * whose message lists every problem with its path, what was expected, what was given and the
 * fix. Exact text, table-driven.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig } from "../lib/config";
import type { ServiceSpec } from "../lib/model";
import { loadStackConfig } from "../lib/program";
import { resolveServices } from "../lib/resolve";
import { configError as error, messageOf, referenceRaw, withConfig } from "./fixtures/broken";
import { evaluateReference } from "./helpers";

const cloud = () => loadStackConfig("cloud", referenceRaw("cloud")).config;
/** Resolves a crafted stacks/cloud.ts declaration against cloud's real config. */
const declaring = (services: Partial<ServiceSpec>[], secrets?: string[]) => () =>
  resolveServices(
    {
      role: "test",
      secrets,
      services: services.map((s) => ({ name: "app", image: "nginx:1.29", ...s }) as ServiceSpec),
    },
    cloud(),
  );
const vol = [{ name: "data", path: "/data" }];

const CASES: [string, () => unknown, string][] = [
  // Required keys and their formats.
  [
    "missing host",
    withConfig("home", { host: undefined }),
    error("home", "host: required; run pulumi config set host <value>"),
  ],
  [
    "host with a space",
    withConfig("home", { host: "home server" }),
    error("home", 'host: expected a host name or IP address, got "home server"'),
  ],
  [
    "upper-case domain",
    withConfig("home", { domain: "Home.Example.com" }),
    error(
      "home",
      'domain: expected a lower-case domain like home.example.com, got "Home.Example.com"',
    ),
  ],
  [
    "one-label domain",
    withConfig("home", { domain: "localhost" }),
    error("home", 'domain: expected a lower-case domain like home.example.com, got "localhost"'),
  ],
  [
    "domain with a trailing dot",
    withConfig("cloud", { domain: "cloud.example.com." }),
    error(
      "cloud",
      'domain: expected a lower-case domain like home.example.com, got "cloud.example.com."',
    ),
  ],
  [
    "bad ACME e-mail",
    withConfig("home", { acmeEmail: "admin-at-example.com" }),
    error("home", 'acmeEmail: expected an e-mail address, got "admin-at-example.com"'),
  ],
  [
    "empty config",
    () => loadStackConfig("cloud", { values: {}, secretsPresent: [] }),
    error(
      "cloud",
      "host: required; run pulumi config set host <value>",
      "domain: required; run pulumi config set domain <value>",
      "acmeEmail: required; run pulumi config set acmeEmail <value>",
    ),
  ],
  // Numbers.
  [
    "sshPort 0",
    withConfig("home", { sshPort: 0 }),
    error("home", 'sshPort: expected an integer 1-65535, got "0"'),
  ],
  [
    "sshPort with a letter",
    withConfig("home", { sshPort: "22a" }),
    error("home", 'sshPort: expected an integer 1-65535, got "22a"'),
  ],
  [
    "sshPort not an integer",
    withConfig("home", { sshPort: 22.5 }),
    error("home", 'sshPort: expected an integer 1-65535, got "22.5"'),
  ],
  [
    "negative retention",
    withConfig("home", { keepDaily: -1 }),
    error("home", 'keepDaily: expected an integer 0-1000, got "-1"'),
  ],
  [
    "retention in words",
    withConfig("home", { keepWeekly: "four" }),
    error("home", 'keepWeekly: expected an integer 0-1000, got "four"'),
  ],
  // Lists.
  [
    "sshOpts as one string",
    withConfig("home", { sshOpts: "-i key" }),
    error("home", 'sshOpts: expected a list of strings, got "-i key"'),
  ],
  [
    "sshOpts with a number",
    withConfig("home", { sshOpts: ["-p", 22] }),
    error("home", "sshOpts[1]: expected a string, got 22"),
  ],
  // Peers.
  [
    "peers naming this stack",
    withConfig("home", { peers: ["home", "cloud", "offsite"] }),
    error("home", 'peers: must not list this stack itself ("home")'),
  ],
  [
    "duplicate peer",
    withConfig("home", { peers: ["cloud", "cloud", "offsite"] }),
    error("home", 'peers[1]: duplicate "cloud"'),
  ],
  [
    "peer that is not a stack name",
    withConfig("home", { peers: ["Cloud", "offsite"] }),
    error(
      "home",
      'peers[0]: expected a stack name (lower-case letters, digits, -), got "Cloud"',
      'ntfyServer: "cloud" must be this stack or one of peers (["offsite"])',
      'sso: "cloud" must be this stack or one of peers (["offsite"])',
      'homepageServer: "cloud" must be this stack or one of peers (["offsite"])',
    ),
  ],
  [
    "peers as an object",
    withConfig("home", { peers: { cloud: true } }),
    error(
      "home",
      'peers: expected a list of strings, got {"cloud":true}',
      'ntfyServer: "cloud" must be this stack or one of peers ([])',
      'sso: "cloud" must be this stack or one of peers ([])',
      'homepageServer: "cloud" must be this stack or one of peers ([])',
    ),
  ],
  [
    "pending peer not in peers",
    withConfig("offsite", { pendingPeers: ["garage"] }),
    error("offsite", 'pendingPeers[0]: "garage" is not in peers (["home","cloud"])'),
  ],
  [
    "unknown ntfy server",
    withConfig("home", { ntfyServer: "clod" }),
    error("home", 'ntfyServer: "clod" must be this stack or one of peers (["cloud","offsite"])'),
  ],
  [
    "replication to an unknown peer",
    withConfig("home", { backupReplicateTo: ["ofsite"] }),
    error(
      "home",
      'backupReplicateTo[0]: unknown peer "ofsite" (did you mean "offsite"?); peers: ["cloud","offsite"]',
    ),
  ],
  // Schedules.
  [
    "cron with 4 fields",
    withConfig("home", { backupSchedule: "0 3 * *" }),
    error(
      "home",
      'backupSchedule: expected a 5-field cron schedule like "0 3 * * *", got "0 3 * *" (4 fields instead of 5)',
    ),
  ],
  [
    "cron minute 61",
    withConfig("home", { backupSchedule: "61 3 * * *" }),
    error(
      "home",
      'backupSchedule: expected a 5-field cron schedule like "0 3 * * *", got "61 3 * * *" (minute 61 is not in 0-59)',
    ),
  ],
  [
    "cron step 0",
    withConfig("home", { backupCheckSchedule: "*/0 4 * * 0" }),
    error(
      "home",
      'backupCheckSchedule: expected a 5-field cron schedule like "0 3 * * *", got "*/0 4 * * 0" (minute step 0 is below 1)',
    ),
  ],
  [
    "cron range backwards",
    withConfig("home", { drillSchedule: "0 6 * * 5-1" }),
    error(
      "home",
      'drillSchedule: expected a 5-field cron schedule like "0 3 * * *", got "0 6 * * 5-1" (day of week range 5-1 runs backwards)',
    ),
  ],
  [
    "Watchtower cron without seconds",
    withConfig("home", { watchtowerSchedule: "0 4 * * *" }),
    error(
      "home",
      'watchtowerSchedule: expected a 6-field cron schedule (seconds first), got "0 4 * * *" (5 fields instead of 6)',
    ),
  ],
  // Enums and booleans.
  [
    "unknown ACME challenge",
    withConfig("cloud", { acmeChallenge: "tls" }),
    error("cloud", 'acmeChallenge: expected one of "http", "dns", got "tls"'),
  ],
  [
    "boolean as yes",
    withConfig("cloud", { acmeStaging: "yes" }),
    error("cloud", 'acmeStaging: expected true or false, got "yes"'),
  ],
  [
    "boolean as 1",
    withConfig("cloud", { syncthingRelays: 1 }),
    error("cloud", 'syncthingRelays: expected true or false, got "1"'),
  ],
  [
    "Syncthing address without a port",
    withConfig("cloud", { syncthingAddress: "tcp://cloud.example.com" }),
    error(
      "cloud",
      'syncthingAddress: expected an address like tcp://host:22000, got "tcp://cloud.example.com"',
    ),
  ],
  // Unknown keys.
  [
    "misspelt key",
    withConfig("home", { domian: "home.example.com" }),
    error("home", 'domian: unknown key (did you mean "domain"?)'),
  ],
  [
    "key with no near match",
    withConfig("home", { colour: "blue" }),
    error("home", "colour: unknown key; every key is declared in Pulumi.yaml"),
  ],
  // Alerts and secrets.
  [
    "fallback alert to Slack",
    withConfig("home", { fallbackAlert: "slack:#alerts" }),
    error(
      "home",
      'fallbackAlert: expected "ntfy:https://<host>/<topic>" or "email:<address>", got "slack:#alerts"',
    ),
  ],
  [
    "e-mail fallback without SMTP",
    withConfig("home", { fallbackAlert: "email:me@example.org" }),
    error(
      "home",
      "smtpHost: required when fallbackAlert is an e-mail address",
      "smtpUser: required when fallbackAlert is an e-mail address",
      // home's header does not ask for it: nobody set it.
      "smtpPassword: required when fallbackAlert is an e-mail address: run pulumi config set --secret smtpPassword <password>",
    ),
  ],
  [
    "malformed ntfy access",
    withConfig("cloud", { ntfyAccess: ["phone:homelab-*", "laptop:homelab-*:admin"] }),
    error(
      "cloud",
      'ntfyAccess[0]: expected "user:topic:permission", got "phone:homelab-*"',
      'ntfyAccess[1]: permission must be one of read-only, write-only, read-write, got "admin"',
    ),
  ],
  [
    "DNS token in plain text",
    () => {
      const raw = referenceRaw("home");
      raw.values.acmeDnsToken = "<plaintext>";
      raw.secretsPresent = raw.secretsPresent.filter((k) => k !== "acmeDnsToken");
      return loadStackConfig("home", raw);
    },
    // Once: set in plain text is not also "required".
    error(
      "home",
      "acmeDnsToken: must be a secret: it is in plain text in Pulumi.home.yaml; remove it there (and rotate it if the file was shared) and run pulumi config set --secret acmeDnsToken <value>",
    ),
  ],
  [
    "DNS challenge without a token",
    () => loadStackConfig("home", { ...referenceRaw("home"), secretsPresent: [] }),
    error(
      "home",
      'acmeDnsToken: required when acmeChallenge is "dns": run pulumi config set --secret acmeDnsToken <token>',
    ),
  ],
  // Wrong types at the top level, as native values (a program or test calling the parser).
  [
    "wrong types at the top level",
    () =>
      parseStackConfig(
        {
          values: {
            host: 42,
            domain: ["a.b"],
            acmeEmail: null,
            sshUser: true,
            peers: "cloud",
            gatusPublic: 0,
            services: "none",
          },
          secretsPresent: [],
        },
        { stack: "home", serviceNames: ["vaultwarden"] },
      ),
    error(
      "home",
      "host: expected a host name or IP address, got 42",
      'domain: expected a lower-case domain like home.example.com, got ["a.b"]',
      'peers: expected a list of strings, got "cloud"',
      "acmeEmail: expected an e-mail address, got null",
      "sshUser: expected a user name, got true",
      "gatusPublic: expected true or false, got 0",
      'services: expected an object, got "none"',
    ),
  ],
  // Service overrides (homelab:services).
  [
    "services as a list",
    withConfig("home", { services: ["vaultwarden"] }),
    error("home", 'services: expected an object, got ["vaultwarden"]'),
  ],
  [
    "override of an unknown service",
    withConfig("home", { services: { imich: { keepDaily: 3 } } }),
    error(
      "home",
      'services.imich: no service "imich" on this server (did you mean "immich"?); services: immich, immich-db, immich-redis, vaultwarden, home-assistant; to declare a new service here, give it an image',
    ),
  ],
  [
    "override key misspelt",
    withConfig("home", { services: { vaultwarden: { imgae: "vaultwarden/server:1.35.0" } } }),
    error(
      "home",
      'services.vaultwarden.imgae: unknown key (did you mean "image"?); allowed: enabled, image, env, subdomain, updates, backupSchedule, keepDaily, keepWeekly, keepMonthly',
    ),
  ],
  [
    "override not an object",
    withConfig("home", { services: { vaultwarden: "off" } }),
    error("home", 'services.vaultwarden: expected an object of overrides, got "off"'),
  ],
  [
    "image without a tag",
    withConfig("home", { services: { vaultwarden: { image: "vaultwarden/server" } } }),
    error(
      "home",
      'services.vaultwarden.image: expected an image reference with a tag, like traefik:v3.5, got "vaultwarden/server"',
    ),
  ],
  [
    "env with a bad name and a nested value",
    withConfig("home", {
      services: { vaultwarden: { env: { "BAD-NAME": "x", NESTED: { a: 1 } } } },
    }),
    error(
      "home",
      "services.vaultwarden.env.BAD-NAME: expected an environment variable name",
      'services.vaultwarden.env.NESTED: expected a string, got {"a":1}',
    ),
  ],
  [
    "unknown update policy",
    withConfig("home", { services: { vaultwarden: { updates: "always" } } }),
    error(
      "home",
      'services.vaultwarden.updates: expected one of "pinned", "notify", "auto", got "always"',
    ),
  ],
  [
    "enabled as no",
    withConfig("home", { services: { vaultwarden: { enabled: "no" } } }),
    error("home", 'services.vaultwarden.enabled: expected true or false, got "no"'),
  ],
  [
    "override cron in words",
    withConfig("home", { services: { vaultwarden: { backupSchedule: "daily" } } }),
    error(
      "home",
      'services.vaultwarden.backupSchedule: expected a 5-field cron schedule like "0 3 * * *", got "daily" (1 field instead of 5)',
    ),
  ],
  [
    "negative override retention",
    withConfig("home", { services: { vaultwarden: { keepMonthly: -3 } } }),
    error("home", "services.vaultwarden.keepMonthly: expected an integer 0-1000, got -3"),
  ],
  [
    "subdomain not a label",
    withConfig("home", { services: { vaultwarden: { subdomain: "Vault_1" } } }),
    error(
      "home",
      'services.vaultwarden.subdomain: expected one DNS label (lower-case letters, digits and "-", no dots: the wildcard certificate covers one label), got "Vault_1"',
    ),
  ],
  // The merged layers.
  [
    "two services on one subdomain",
    withConfig("home", { services: { "home-assistant": { subdomain: "vault" } } }),
    error(
      "home",
      'services.home-assistant.subdomain: "vault.home.example.com" is already taken by vaultwarden',
    ),
  ],
  [
    "a subdomain a standard component owns",
    withConfig("home", { services: { vaultwarden: { subdomain: "status" } } }),
    error(
      "home",
      'services.vaultwarden.subdomain: "status.home.example.com" is already taken by gatus',
    ),
  ],
  [
    "disabling a dependency",
    withConfig("home", { services: { "immich-redis": { enabled: false } } }),
    error(
      "home",
      'services.immich.dependsOn: "immich-redis" is disabled in Pulumi.home.yaml; enable it or disable immich too',
    ),
  ],
  [
    // A server of its stack file alone (issue 13) has no services of home's to override.
    "another server's overrides on a server without stacks/<name>.ts",
    () => loadStackConfig("garage", referenceRaw("home")),
    error(
      "garage",
      'services.vaultwarden: no service "vaultwarden" on this server; stacks/garage.ts declares none' +
        "; to declare a new service here, give it an image",
    ),
  ],
  // Declarations (stacks/<server>.ts).
  [
    "duplicate service names",
    declaring([{}, { image: "nginx:1.28" }]),
    error("cloud", "services.app: declared twice in stacks/cloud.ts"),
  ],
  [
    "service name not a label",
    declaring([{ name: "My_App" }]),
    error("cloud", 'services[0].name: expected a lower-case DNS label, got "My_App"'),
  ],
  [
    "host port of Traefik",
    declaring([{ ports: [{ port: 8443, hostPort: 443 }] }]),
    error("cloud", "services.app.ports: host port 443/tcp is already published by traefik"),
  ],
  [
    "two services on one host port",
    declaring([
      { name: "a", ports: [{ port: 25 }] },
      { name: "b", ports: [{ port: 25 }] },
    ]),
    error("cloud", "services.b.ports: host port 25/tcp is already published by a"),
  ],
  [
    "two declared services on one subdomain",
    declaring([
      { name: "a", http: { port: 80, subdomain: "www" } },
      { name: "b", http: { port: 80, subdomain: "www" } },
    ]),
    error("cloud", 'services.b.subdomain: "www.cloud.example.com" is already taken by a'),
  ],
  [
    "declared image without a tag",
    declaring([{ image: "nginx" }]),
    error("cloud", 'services.app.image: expected an image reference with a tag, got "nginx"'),
  ],
  [
    "http port 0",
    declaring([{ http: { port: 0 } }]),
    error("cloud", "services.app.http.port: expected an integer 1-65535, got 0"),
  ],
  [
    "port as text, out of range, unknown protocol and check",
    declaring([
      {
        ports: [
          { port: "25" as unknown as number },
          { port: 70000, protocol: "sctp" as "tcp", check: "smtp" as "tcp" },
        ],
      },
    ]),
    error(
      "cloud",
      'services.app.ports[0].port: expected an integer 1-65535, got "25"',
      "services.app.ports[1].port: expected an integer 1-65535, got 70000",
      'services.app.ports[1].protocol: expected one of "tcp", "udp", got "sctp"',
      'services.app.ports[1].check: expected one of "tcp", "starttls", "tls", "none", got "smtp"',
    ),
  ],
  [
    "unknown generated secret",
    declaring([{ env: { DB_PASSWORD: { secret: "db-pasword" } } }], ["db-password"]),
    error(
      "cloud",
      'services.app.env.DB_PASSWORD: unknown secret "db-pasword" (did you mean "db-password"?); declare it in secrets',
    ),
  ],
  [
    "volume with a relative path, a duplicate name and an unknown kind",
    declaring([
      {
        volumes: [
          { name: "data", path: "data" },
          { name: "data", path: "/b", kind: "temp" as "data" },
        ],
        backup: { capture: "files" },
      },
    ]),
    error(
      "cloud",
      'services.app.volumes[0].path: expected an absolute path, got "data"',
      'services.app.volumes[1].name: duplicate volume "data"',
      'services.app.volumes[1].kind: expected one of "data", "cache", got "temp"',
    ),
  ],
  [
    "unknown dependency",
    declaring([{ dependsOn: ["db"] }]),
    error("cloud", 'services.app.dependsOn: unknown service "db"'),
  ],
  [
    "backup of nothing",
    declaring([{ backup: { enabled: true } }]),
    error(
      "cloud",
      "services.app.backup: enabled but there is nothing to back up: add a data volume or a dump",
    ),
  ],
  [
    "skipping an unknown volume",
    declaring([{ volumes: vol, backup: { capture: "files", skipVolumes: ["dat"] } }]),
    error("cloud", 'services.app.backup.skipVolumes[0]: no volume "dat" (did you mean "data"?)'),
  ],
  [
    "declared backup cron in words",
    declaring([{ volumes: vol, backup: { capture: "files", schedule: "every day" } }]),
    error(
      "cloud",
      'services.app.backup.schedule: expected a 5-field cron schedule like "0 3 * * *", got "every day" (2 fields instead of 5)',
    ),
  ],
];

describe("malformed stack configs and declarations", () => {
  it("the table covers at least 30 cases, each once", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map(([name]) => name)).size).toBe(CASES.length);
  });

  it.each(CASES)("%s", (_name, run, expected) => {
    expect(messageOf(run)).toBe(expected);
  });

  it("the header is literal: stack, file and count", () => {
    expect(messageOf(withConfig("cloud", { host: undefined, keepDaily: -1 }))).toBe(
      'Invalid configuration for stack "cloud" (Pulumi.cloud.yaml), 2 problems:\n' +
        "  host: required; run pulumi config set host <value>\n" +
        '  keepDaily: expected an integer 0-1000, got "-1"',
    );
  });

  it("one run reports every problem of every layer it reaches at once", () => {
    expect(
      messageOf(
        withConfig("home", {
          sshPort: 0,
          colour: "blue",
          backupSchedule: "0 3 * *",
          services: { vaultwarden: { updates: "always" } },
        }),
      ),
    ).toBe(
      error(
        "home",
        "colour: unknown key; every key is declared in Pulumi.yaml",
        'sshPort: expected an integer 1-65535, got "0"',
        'backupSchedule: expected a 5-field cron schedule like "0 3 * * *", got "0 3 * *" (4 fields instead of 5)',
        'services.vaultwarden.updates: expected one of "pinned", "notify", "auto", got "always"',
      ),
    );
  });

  it("a valid override passes (same port on another protocol, a cache volume)", () => {
    const ok = declaring([
      { name: "a", ports: [{ port: 53 }], volumes: [{ name: "tmp", path: "/tmp", kind: "cache" }] },
      { name: "b", ports: [{ port: 53, protocol: "udp" }] },
    ])();
    expect(ok.map((s) => s.name)).toEqual(["a", "b"]);
  });
});

describe("through the whole program", () => {
  it.each([
    ["host with a space", "home", { host: "home server" }],
    [
      "two services on one subdomain",
      "home",
      { services: { "home-assistant": { subdomain: "vault" } } },
    ],
    ["cron minute 61", "home", { backupSchedule: "61 3 * * *" }],
  ] as const)(
    "%s: evaluating the stack rejects with the same ConfigError",
    async (name, stack, overrides) => {
      const err = await evaluateReference(stack, { overrides }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toBe(CASES.find(([n]) => n === name)![2]);
    },
  );
});
