/**
 * The holes an attacker review found (issue 11): each case is the attack as a careless config
 * author or an attacker would write it, and the exact refusal. Every case passed unnoticed
 * before the fix.
 */
import { XMLParser } from "fast-xml-parser";
import { parse } from "yaml";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main as plan } from "../cli/plan";
import { Secret, asPeerOutputs, evaluateStack, reveal } from "../cli/evaluate";
import { serverPlans } from "../cli/report-model";
import { serverText } from "../cli/report-text";
import { checkStack, formatFinding } from "../lib/guardrails";
import { programConfigFor } from "../lib/cli-config";
import { uploadText } from "../cli/report-read";
import { isDeviceId, renderSyncthingConfig, syncthingIdentity } from "../configs/syncthing";
import { ConfigError } from "../lib/config";
import type { ServerDeclaration, ServiceSpec } from "../lib/model";
import { loadStackConfig } from "../lib/program";
import { resolveServices } from "../lib/resolve";
import {
  broken,
  configError as error,
  dockerContainer,
  messageOf,
  referenceRaw,
  setLabel,
  withConfig,
} from "./fixtures/broken";
import {
  ROOT,
  STACK_NAMES,
  container,
  envs,
  evaluateReference,
  headerSecrets,
  referenceFleet,
} from "./helpers";

const cloud = () => loadStackConfig("cloud", referenceRaw("cloud")).config;
const declaring =
  (services: Partial<ServiceSpec>[], more: Partial<ServerDeclaration> = {}) =>
  () =>
    resolveServices(
      {
        role: "test",
        ...more,
        services: services.map((s) => ({ name: "app", image: "nginx:1.29", ...s }) as ServiceSpec),
      },
      cloud(),
    );
const vol = [{ name: "data", path: "/data" }];
const INJECTION = "ha.home.example.com`) || PathPrefix(`/`) || Host(`ha";
const LABEL =
  'one DNS label (lower-case letters, digits and "-", no dots: the wildcard certificate covers one label)';

describe("item 3: a declaration is checked by the same rules from TypeScript and from YAML", () => {
  // The subdomain becomes Traefik's rule Host(`<subdomain>.<domain>`) (configs/traefik.ts
  // traefikLabels): a backquote closes the string and `|| PathPrefix(`/`)` matches every
  // request (Traefik v3 rule syntax, https://doc.traefik.io/traefik/routing/routers/#rule).
  it("the Traefik rule injection in stacks/*.ts is refused with the message YAML gets", () => {
    const fromTs = messageOf(declaring([{ http: { port: 80, subdomain: INJECTION } }]));
    const fromYaml = messageOf(
      withConfig("home", { services: { vaultwarden: { subdomain: INJECTION } } }),
    );
    expect(fromTs).toBe(
      error(
        "cloud",
        `services.app.http.subdomain: expected ${LABEL}, got ${JSON.stringify(INJECTION)}`,
      ),
    );
    expect(fromYaml).toBe(
      error(
        "home",
        `services.vaultwarden.subdomain: expected ${LABEL}, got ${JSON.stringify(INJECTION)}`,
      ),
    );
  });

  it("a subdomain of two labels is refused: *.<domain> does not cover it (RFC 6125 §6.4.3)", () => {
    expect(messageOf(declaring([{ http: { port: 80, subdomain: "a.b" } }]))).toBe(
      error("cloud", `services.app.http.subdomain: expected ${LABEL}, got "a.b"`),
    );
  });

  it.each<[string, Partial<ServiceSpec>, Partial<ServerDeclaration>, string[]]>([
    [
      "a health path that leaves the URL",
      { http: { port: 80, healthPath: "/ok \nfoo" } },
      {},
      [
        'services.app.http.healthPath: expected a URL path starting with "/" (RFC 3986 characters, no spaces), got "/ok \\nfoo"',
      ],
    ],
    [
      "a health path without its slash",
      { http: { port: 80, healthPath: "@evil.example/" } },
      {},
      [
        'services.app.http.healthPath: expected a URL path starting with "/" (RFC 3986 characters, no spaces), got "@evil.example/"',
      ],
    ],
    [
      "verifyFiles: absolute, upwards, split by a space, a glob, outside the volumes",
      {
        volumes: vol,
        backup: {
          capture: "files",
          verifyFiles: ["/etc/passwd", "data/../../x", "data/a b", "data/*", "other/x"],
        },
      },
      {},
      [
        'services.app.backup.verifyFiles[0]: expected a relative path "<volume>/<file>" (letters, digits and ._@+,=-; no spaces, no "..", no glob characters), got "/etc/passwd"',
        'services.app.backup.verifyFiles[1]: expected a relative path "<volume>/<file>" (letters, digits and ._@+,=-; no spaces, no "..", no glob characters), got "data/../../x"',
        'services.app.backup.verifyFiles[2]: expected a relative path "<volume>/<file>" (letters, digits and ._@+,=-; no spaces, no "..", no glob characters), got "data/a b"',
        'services.app.backup.verifyFiles[3]: expected a relative path "<volume>/<file>" (letters, digits and ._@+,=-; no spaces, no "..", no glob characters), got "data/*"',
        'services.app.backup.verifyFiles[4]: "other/x" is not in a backed-up data volume: start it with one of "data/"',
      ],
    ],
    [
      "retention numbers that are not finite integers",
      {
        volumes: vol,
        backup: { capture: "files", keepDaily: 1.5, keepWeekly: Number.NaN, keepMonthly: Infinity },
      },
      {},
      [
        "services.app.backup.keepDaily: expected an integer 0-1000, got 1.5",
        "services.app.backup.keepWeekly: expected an integer 0-1000, got null",
        "services.app.backup.keepMonthly: expected an integer 0-1000, got null",
      ],
    ],
    [
      // restic v0.18.0 cmd/restic/cmd_forget.go:239-246: with no keep option and no
      // --unsafe-allow-remove-all, forget fails "no policy was specified, no snapshots will be removed".
      "a retention of all zeros",
      { volumes: vol, backup: { capture: "files", keepDaily: 0, keepWeekly: 0, keepMonthly: 0 } },
      {},
      [
        "services.app: keepDaily, keepWeekly and keepMonthly are all 0: restic forget refuses an empty policy; keep at least one snapshot (e.g. keepDaily: 7)",
      ],
    ],
    [
      "secret names: not a name, twice",
      { env: { A: { secret: "db pass" } } },
      { secrets: ["db pass", "db", "db"] },
      [
        'secrets[0]: expected a secret name (lower-case letters, digits and "-", starting with a letter), got "db pass"',
        'secrets[2]: duplicate secret "db"',
      ],
    ],
    [
      "dump packages that are apk options or shell words",
      {
        volumes: vol,
        backup: {
          capture: "dump",
          dump: {
            command: "true",
            filename: "d.sql",
            packages: ["--allow-untrusted", "a;rm -rf /", "postgresql16-client"],
          },
        },
      },
      {},
      [
        'services.app.backup.dump.packages[0]: expected an Alpine package name (lower-case letters, digits, +-._), got "--allow-untrusted"',
        'services.app.backup.dump.packages[1]: expected an Alpine package name (lower-case letters, digits, +-._), got "a;rm -rf /"',
      ],
    ],
  ])("%s", (_name, spec, more, lines) => {
    expect(messageOf(declaring([spec], more))).toBe(error("cloud", ...lines));
  });

  it("retention from YAML: the same number rule and the same empty-policy rule", () => {
    expect(messageOf(withConfig("home", { keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }))).toBe(
      error(
        "home",
        "keepDaily: keepDaily, keepWeekly and keepMonthly are all 0: restic forget refuses an empty policy; keep at least one snapshot (e.g. keepDaily: 7)",
      ),
    );
    expect(
      messageOf(
        withConfig("home", {
          services: { vaultwarden: { keepDaily: 0, keepWeekly: 0, keepMonthly: 0 } },
        }),
      ),
    ).toBe(
      error(
        "home",
        "services.vaultwarden: keepDaily, keepWeekly and keepMonthly are all 0: restic forget refuses an empty policy; keep at least one snapshot (e.g. keepDaily: 7)",
      ),
    );
    expect(messageOf(withConfig("home", { services: { vaultwarden: { keepDaily: 2.5 } } }))).toBe(
      error("home", "services.vaultwarden.keepDaily: expected an integer 0-1000, got 2.5"),
    );
  });
});

describe("item 6: a schedule that (almost) never runs", () => {
  it.each([
    ["backupSchedule", "0 3 31 2 *", "it runs at most once a year, or never"],
    ["drillSchedule", "0 6 31 * *", "up to 61 days pass between two runs"],
    ["backupCheckSchedule", "0 4 1 1,7 *", "up to 184 days pass between two runs"],
  ])("%s %s is refused: its heartbeat would wait as long", (key, cron, why) => {
    expect(messageOf(withConfig("home", { [key]: cron }))).toBe(
      error(
        "home",
        `${key}: expected a 5-field cron schedule like "0 3 * * *", got ${JSON.stringify(cron)} (${why}; run it at least every 31 days)`,
      ),
    );
  });

  it("the same rule for a service's schedule and for Watchtower's (seconds first)", () => {
    expect(
      messageOf(
        withConfig("home", { services: { vaultwarden: { backupSchedule: "0 3 31 2 *" } } }),
      ),
    ).toBe(
      error(
        "home",
        'services.vaultwarden.backupSchedule: expected a 5-field cron schedule like "0 3 * * *", got "0 3 31 2 *" (it runs at most once a year, or never; run it at least every 31 days)',
      ),
    );
    expect(messageOf(withConfig("home", { watchtowerSchedule: "0 0 4 30 2 *" }))).toBe(
      error(
        "home",
        'watchtowerSchedule: expected a 6-field cron schedule (seconds first), got "0 0 4 30 2 *" (it runs at most once a year, or never; run it at least every 31 days)',
      ),
    );
  });

  it("a monthly schedule on the 1st (31 days at most) passes", () => {
    expect(() => withConfig("home", { drillSchedule: "0 6 1 * *" })()).not.toThrow();
  });
});

describe("item 5: ntfy users cannot take a publisher's name", () => {
  it.each(["publisher-home", "publisher-newserver", "admin", "everyone"])(
    "%s is reserved",
    (user) => {
      expect(messageOf(withConfig("cloud", { ntfyAccess: [`${user}:*:read-write`] }))).toBe(
        error(
          "cloud",
          `ntfyAccess[0]: user "${user}" is reserved: publisher-<server> are the servers' publishers, "admin" the generated admin, "everyone" and "*" mean anyone without a login in ntfy's access rules; pick another user name`,
        ),
      );
    },
  );

  it("evaluating the stack with the attack fails with the config message, not with two resources of one name", async () => {
    const err = await evaluateReference("cloud", {
      overrides: { ntfyAccess: ["publisher-home:*:read-write"] },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
  });
});

describe("item 9: smaller holes", () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    [
      "a subdomain for a service without http",
      { services: { "immich-db": { subdomain: "db" } } },
      [
        'services.immich-db.subdomain: "immich-db" has no http route, so a subdomain cannot apply: remove it from Pulumi.home.yaml (or give the service http in stacks/home.ts)',
      ],
    ],
    [
      "retention and a schedule for a service without backup",
      { services: { "immich-redis": { keepDaily: 3, backupSchedule: "0 1 * * *" } } },
      [
        'services.immich-redis.backupSchedule: "immich-redis" has no backup (no data volume or dump, or backup.enabled: false), so backupSchedule cannot apply: remove it from Pulumi.home.yaml',
        'services.immich-redis.keepDaily: "immich-redis" has no backup (no data volume or dump, or backup.enabled: false), so keepDaily cannot apply: remove it from Pulumi.home.yaml',
      ],
    ],
    [
      // The token would replace PATH in Traefik's environment (components/traefik.ts).
      "the DNS token in PATH",
      { acmeDnsTokenEnv: "PATH" },
      [
        'acmeDnsTokenEnv: "PATH" is a variable Traefik\'s container or process already uses (PATH, HOME, TZ, LD_*, TRAEFIK_*, LEGO_*, GO*, proxies, CA files): name the variable your DNS provider reads its token from, e.g. CF_DNS_API_TOKEN',
      ],
    ],
    [
      "the DNS token in a proxy variable",
      { acmeDnsTokenEnv: "https_proxy" },
      [
        'acmeDnsTokenEnv: "https_proxy" is a variable Traefik\'s container or process already uses (PATH, HOME, TZ, LD_*, TRAEFIK_*, LEGO_*, GO*, proxies, CA files): name the variable your DNS provider reads its token from, e.g. CF_DNS_API_TOKEN',
      ],
    ],
    [
      // KNOWN_DNS_TOKEN_ENV["constructor"] was Object's constructor, a function, taken as the
      // variable name.
      "a DNS provider named like an Object member",
      { acmeDnsProvider: "constructor", acmeDnsTokenEnv: "" },
      [
        'acmeDnsTokenEnv: required for DNS provider "constructor": name the variable its token goes in',
      ],
    ],
    [
      // ssh_config(5) ProxyCommand (openssh-portable ssh_config.5:1613-1616): "executed using the user's shell".
      "sshOpts with ProxyCommand, in every spelling",
      {
        sshOpts: [
          "-o",
          "ProxyCommand=touch /tmp/pwned",
          "-oproxycommand sh",
          "-vo",
          "LocalCommand x",
          "-F",
          "/tmp/cfg",
          "-I/tmp/lib.so",
          "-o",
          "Match exec id",
          "-o",
          '"ProxyCommand" sh',
        ],
      },
      [
        'sshOpts[1]: "ProxyCommand=touch /tmp/pwned" sets ssh\'s proxycommand option, which runs a command or loads code on the machine running Pulumi: remove it',
        'sshOpts[2]: "-oproxycommand sh" sets ssh\'s proxycommand option, which runs a command or loads code on the machine running Pulumi: remove it',
        'sshOpts[4]: "LocalCommand x" sets ssh\'s localcommand option, which runs a command or loads code on the machine running Pulumi: remove it',
        'sshOpts[6]: "/tmp/cfg" (-F) reads another ssh config file, which may run commands: remove it',
        'sshOpts[7]: "-I/tmp/lib.so" (-I) loads a PKCS#11 library into ssh: remove it',
        'sshOpts[9]: "Match exec id" sets ssh\'s match option, which runs a command or loads code on the machine running Pulumi: remove it',
        'sshOpts[11]: "\\"ProxyCommand\\" sh" sets ssh\'s proxycommand option, which runs a command or loads code on the machine running Pulumi: remove it',
      ],
    ],
    [
      "sshOpts with a bare word: ssh would take it as the destination",
      { sshOpts: ["evil.example.com"] },
      [
        'sshOpts[0]: "evil.example.com" is not an option: ssh would take it as the destination host (or end its options): remove it',
      ],
    ],
    [
      "a host that ssh reads as an option",
      { host: "-oProxyCommand=x" },
      ['host: expected a host name or IP address, got "-oProxyCommand=x"'],
    ],
    [
      "a host starting with a dash",
      { host: "-Fx" },
      ['host: expected a host name or IP address, got "-Fx"'],
    ],
    [
      "a fallback alert over plain HTTP",
      { fallbackAlert: "ntfy:http://ntfy.example.com/alerts" },
      [
        'fallbackAlert: "ntfy:http://ntfy.example.com/alerts" sends alerts over plain HTTP: use https:// (ntfy.sh and every ntfy behind a proxy serve it)',
      ],
    ],
  ])("%s is refused", (_name, overrides, lines) => {
    expect(messageOf(withConfig("home", overrides))).toBe(error("home", ...lines));
  });

  it("ordinary ssh options and hosts pass", () => {
    for (const ok of [
      { sshOpts: ["-i", "~/.ssh/homelab", "-o", "IdentitiesOnly=yes", "-oServerAliveInterval=30"] },
      { host: "10.0.0.5" },
      { host: "[fd7a:115c:a1e0::1]" },
      { host: "home.tail0e1f2.ts.net" },
    ])
      expect(() => withConfig("home", ok)(), JSON.stringify(ok)).not.toThrow();
  });

  it("npm run plan with a Pulumi.constructor.yaml: the config message, not an internal error", async () => {
    // The fleet's tables were plain objects: evaluations["constructor"] was Object's constructor.
    const dir = mkdtempSync(join(tmpdir(), "homelab-attack-"));
    try {
      copyFileSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
      copyFileSync(join(ROOT, "Pulumi.home.yaml"), join(dir, "Pulumi.constructor.yaml"));
      let err = "";
      const code = await plan(["--root", dir, "--assume-secrets"], {
        write: () => undefined,
        fail: (x) => (err += x),
      });
      expect(code).toBe(1);
      expect(err).toBe(
        error(
          "constructor",
          'services.vaultwarden: no service "vaultwarden" on this server; stacks/constructor.ts declares none; to declare a new service here, give it an image',
        ) + "\n\nNo plan: fix the configuration above and run again.\n",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a stack named like an Object member (Pulumi.constructor.yaml) gets a config error, not a crash", () => {
    expect(messageOf(() => loadStackConfig("constructor", referenceRaw("home")))).toBe(
      error(
        "constructor",
        'services.vaultwarden: no service "vaultwarden" on this server; stacks/constructor.ts declares none; to declare a new service here, give it an image',
      ),
    );
  });
});

describe("item 4: what peers publish is checked before it reaches Gatus or config.xml", () => {
  const INTRODUCER = 'X" introducer="true';

  it("a device ID is Syncthing's canonical form with right check characters", async () => {
    // From the real binary here: `syncthing generate --home=<dir>` (v1.19.2) printed it.
    expect(isDeviceId("XCZTPLV-EUNWD45-3CHSRFZ-QGPVHTG-JW7ERS5-LAFBGZK-SCI22J5-HV5B2QA")).toBe(
      true,
    );
    const own = await syncthingIdentity(Buffer.alloc(32, 7).toString("base64"));
    expect(isDeviceId(own.deviceId)).toBe(true);
    // One check character off (deviceid.go unluhnify), lower case, old 52-character form, the attack.
    expect(isDeviceId("XCZTPLV-EUNWD45-3CHSRFZ-QGPVHTG-JW7ERS5-LAFBGZK-SCI22J5-HV5B2QB")).toBe(
      false,
    );
    expect(isDeviceId("xcztplv-eunwd45-3chsrfz-qgpvhtg-jw7ers5-lafbgzk-sci22j5-hv5b2qa")).toBe(
      false,
    );
    expect(isDeviceId("XCZTPLVEUNWD43CHSRFZQGPVHTJW7ERS5LAFBGZSCI22J5HV5B2Q")).toBe(false);
    expect(isDeviceId(INTRODUCER)).toBe(false);
  });

  it("config.xml: every value escaped (read back by an XML parser), a bad device ID refused", async () => {
    const [self, peer] = (
      await Promise.all(
        [1, 2].map((n) => syncthingIdentity(Buffer.alloc(32, n).toString("base64"))),
      )
    ).map((i) => i.deviceId);
    const input = {
      self: { name: "home", deviceId: self! },
      devices: [{ name: "cl\"oud<&>'", deviceId: peer!, address: 'tcp://x:1" introducer="true' }],
      folders: [
        {
          id: 'f" type="sendreceive',
          label: "<label>",
          path: "/p&q",
          type: "receiveonly" as const,
          devices: ["cl\"oud<&>'"],
        },
      ],
      relays: false,
      globalDiscovery: false,
      gui: { user: "admin", passwordBcrypt: "$2a$10$x", apiKey: "k" },
    };
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(
      renderSyncthingConfig(input),
    );
    const devices = doc.configuration.device as Record<string, unknown>[];
    expect(devices.map((d) => [d.name, d.address, d.introducer])).toEqual([
      ["home", "dynamic", "false"],
      ["cl\"oud<&>'", 'tcp://x:1" introducer="true', "false"],
    ]);
    expect(doc.configuration.folder).toMatchObject({
      id: 'f" type="sendreceive',
      label: "<label>",
      path: "/p&q",
      type: "receiveonly",
    });
    expect(() =>
      renderSyncthingConfig({
        ...input,
        devices: [{ ...input.devices[0]!, deviceId: INTRODUCER }],
      }),
    ).toThrow('Syncthing config: "X\\" introducer=\\"true" is not a Syncthing device ID');
  });

  it("a peer publishing a forged device ID and endpoints: home leaves them out, with warnings", async () => {
    const { evaluations } = await referenceFleet();
    const peers = Object.fromEntries(STACK_NAMES.map((x) => [x, asPeerOutputs(evaluations[x]!)]));
    const cloud = structuredClone(peers.cloud!);
    (cloud.outputs.syncthing as { deviceId: string }).deviceId = INTRODUCER;
    const endpoints = cloud.outputs.endpoints as unknown[];
    endpoints.push(
      {
        name: "evil",
        url: "https://x.example.com/\nalerting: {}",
        conditions: ["[STATUS] == 200"],
      },
      { name: "evil2", url: "https://x.example.com/", conditions: ["[STATUS] == 200 || true"] },
      {
        name: "${HEARTBEAT_TOKEN}",
        url: "https://x.example.com/",
        conditions: ["[STATUS] == 200"],
      },
    );
    const n = endpoints.length;
    const home = await evaluateReference("home", { peers: { ...peers, cloud } });
    expect(home.warnings).toEqual(
      expect.arrayContaining([
        'peer "cloud" output "syncthing" has an unexpected shape: deviceId "X\\" introducer=\\"true" is not a Syncthing device ID; ignored. Update and redeploy cloud.',
        `peer "cloud" output "endpoints"[${n - 3}] is not watched: url "https://x.example.com/\\nalerting: {}" is not https://<host>/<path> or tcp|tls|starttls://<host>:<port>. Update and redeploy cloud.`,
        `peer "cloud" output "endpoints"[${n - 2}] is not watched: condition "[STATUS] == 200 || true" is not one this program publishes. Update and redeploy cloud.`,
        `peer "cloud" output "endpoints"[${n - 1}] is not watched: name "\${HEARTBEAT_TOKEN}" is not a lower-case label. Update and redeploy cloud.`,
      ]),
    );
    const xml = uploadText(container(home, "syncthing"), "/etc/syncthing/config.xml")!;
    expect(xml).not.toContain('introducer="true"');
    const gatus = parse(uploadText(container(home, "gatus"), "/config/config.yaml")!) as {
      endpoints: { name: string; group: string }[];
    };
    const cloudNames = gatus.endpoints.filter((e) => e.group === "cloud").map((e) => e.name);
    expect(cloudNames).not.toContain("evil");
    expect(cloudNames).toHaveLength(n - 3);
  });
});

describe("item 8: published ports bind to the addresses a server names", () => {
  const TAILNET = ["100.101.102.103", "fd7a:115c:a1e0::1"];

  it("bindAddresses: every published port once per address (the provider's ContainerPort ip)", async () => {
    // @pulumi/docker 5.2.0 types/input.d.ts ContainerPort.ip; the provider sets Docker's
    // PortBinding.HostIP from it (kreuzwerker v4.5.0 resource_docker_container_structures.go:247-250).
    const home = await evaluateReference("home", { overrides: { bindAddresses: TAILNET } });
    const ports = (name: string) => reveal(container(home, name).inputs.ports);
    expect(ports("traefik")).toEqual(
      [80, 443].flatMap((p) =>
        TAILNET.map((ip) => ({ internal: p, external: p, protocol: "tcp", ip })),
      ),
    );
    expect(ports("syncthing")).toEqual(
      ["tcp", "udp"].flatMap((protocol) =>
        TAILNET.map((ip) => ({ internal: 22000, external: 22000, protocol, ip })),
      ),
    );
    expect(checkStack(home, { fleet: { home } }, ["unique-host-ports"])).toEqual([]);
    const cloud = await evaluateReference("cloud", { overrides: { bindAddresses: ["10.0.0.2"] } });
    expect(reveal(container(cloud, "mail").inputs.ports)).toEqual(
      [25, 465, 587, 993].map((p) => ({
        internal: p,
        external: p,
        protocol: "tcp",
        ip: "10.0.0.2",
      })),
    );
  });

  it("the plan shows each server's exposure, every interface by default", async () => {
    const bound = await evaluateReference("home", {
      overrides: { bindAddresses: ["100.101.102.103"] },
    });
    const { evaluations } = await referenceFleet();
    const [open] = serverPlans({ evaluations: { home: evaluations.home! } });
    const [closed] = serverPlans({ evaluations: { home: bound } });
    expect(serverText(open!)).toContain(
      "Published ports by host address\n  0.0.0.0 (every interface): 80/tcp traefik, 443/tcp traefik, 22000/tcp syncthing, 22000/udp syncthing\n",
    );
    expect(serverText(closed!)).toContain(
      "Published ports by host address\n  100.101.102.103: 80/tcp traefik, 443/tcp traefik, 22000/tcp syncthing, 22000/udp syncthing\n",
    );
    expect(closed!.containers.find((c) => c.name === "traefik")!.ports).toEqual([
      "100.101.102.103:80:80/tcp",
      "100.101.102.103:443:443/tcp",
    ]);
  });

  it("addresses are IP addresses, each once", () => {
    expect(
      messageOf(
        withConfig("home", {
          bindAddresses: ["tailnet", "100.64.0.0/10", "100.64.0.1", "100.64.0.1"],
        }),
      ),
    ).toBe(
      error(
        "home",
        'bindAddresses[0]: expected an IPv4 or IPv6 address like 100.64.0.1, got "tailnet"',
        'bindAddresses[1]: expected an IPv4 or IPv6 address like 100.64.0.1, got "100.64.0.0/10"',
        'bindAddresses[3]: duplicate "100.64.0.1"',
      ),
    );
  });
});

describe("item 9: secrets", () => {
  it("a plain env value next to a secret one stays plain (per element, as the engine gets it)", async () => {
    const home = await evaluateReference("home");
    const traefik = container(home, "traefik");
    const env = envs(traefik);
    expect(env.secretNames).toEqual(["CF_DNS_API_TOKEN"]);
    expect(env.values.TZ).toBe("Europe/Berlin");
    expect((traefik.inputs.envs as unknown[]).map((x) => x instanceof Secret)).toEqual([
      true,
      false,
    ]);
  });

  it("a secret shorter than 16 characters is still found when it leaks (8 is the least, NIST SP 800-63B §5.1.1.1)", async () => {
    const token = "k3yShort99";
    const config = programConfigFor(ROOT, "home", {
      secrets: { ...headerSecrets("home"), acmeDnsToken: token },
    });
    const home = await evaluateStack("home", config, { quiet: true });
    expect(checkStack(home, { fleet: { home } }, ["no-plaintext-secret"])).toEqual([]);
    const leaked = broken({ home }, (f) =>
      setLabel(dockerContainer(f.home!, "vaultwarden"), "homelab.note", `token ${token}`),
    );
    expect(
      checkStack(leaked.home!, { fleet: leaked }, ["no-plaintext-secret"]).map(formatFinding),
    ).toEqual([
      '[no-plaintext-secret] home: Container home-vaultwarden-container ("vaultwarden"): label homelab.note holds in plain text a value that is secret in Container home-traefik-container ("traefik") env CF_DNS_API_TOKEN: pass it as a secret Output (pulumi.secret), never as text',
    ]);
  });
});
