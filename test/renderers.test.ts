/**
 * The pure renderers: what ends up on servers, checked without mocks, against the real
 * schemas and tools where there are some (Traefik JSON Schemas, shellcheck, busybox sh).
 */
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  renderBackupScript,
  renderCrontab,
  renderEnvFile,
  BackupScriptInput,
} from "../configs/backup";
import { cronMaxGapMinutes } from "../configs/cron";
import { renderGatusConfig, serviceEndpoints } from "../configs/gatus";
import { renderNtfyConfig } from "../configs/ntfy";
import { deviceIdFromCert, renderSyncthingConfig, syncthingIdentity } from "../configs/syncthing";
import { renderTraefikDynamic, renderTraefikStatic, traefikLabels } from "../configs/traefik";
import { isCron } from "../lib/checks";
import type { ResolvedService } from "../lib/model";
import { ROOT } from "./helpers";
import { lacks } from "./tools";

/** A SchemaStore schema vendored in test/schemas/ (sources and licence: test/schemas/README.md). */
function schemaValidator(file: string) {
  const schema = JSON.parse(readFileSync(join(ROOT, "test", "schemas", file), "utf8"));
  delete schema.$schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

describe("Traefik", () => {
  const staticSchema = schemaValidator("traefik-v3.json");
  const dynamicSchema = schemaValidator("traefik-v3-file-provider.json");

  it.each([
    ["http", { email: "a@example.com", staging: false, challenge: "http" as const }],
    [
      "dns",
      { email: "a@example.com", staging: true, challenge: "dns" as const, provider: "cloudflare" },
    ],
  ])("static config (%s challenge) is valid Traefik v3", (_, acme) => {
    const doc = parse(
      renderTraefikStatic("home.example.com", acme, "tcp://traefik-socket-proxy:2375"),
    );
    expect(staticSchema(doc), JSON.stringify(staticSchema.errors)).toBe(true);
    expect(doc.providers.docker).toEqual({
      endpoint: "tcp://traefik-socket-proxy:2375",
      exposedByDefault: false,
      network: "homelab-proxy",
      watch: true,
    });
    expect(doc.entryPoints.web.http.redirections.entryPoint).toEqual({
      to: "websecure",
      scheme: "https",
      permanent: true,
    });
  });

  it("HTTP-01 by default; DNS-01 asks for a wildcard and uses the named provider", () => {
    const http = parse(
      renderTraefikStatic(
        "cloud.example.com",
        { email: "a@example.com", staging: false, challenge: "http" },
        "tcp://p:2375",
      ),
    );
    expect(http.certificatesResolvers.letsencrypt.acme).toEqual({
      email: "a@example.com",
      storage: "/letsencrypt/acme.json",
      httpChallenge: { entryPoint: "web" },
    });
    expect(http.entryPoints.websecure.http.tls).toEqual({ certResolver: "letsencrypt" });
    const dns = parse(
      renderTraefikStatic(
        "home.example.com",
        { email: "a@example.com", staging: true, challenge: "dns", provider: "cloudflare" },
        "tcp://p:2375",
      ),
    );
    expect(dns.certificatesResolvers.letsencrypt.acme.dnsChallenge.provider).toBe("cloudflare");
    expect(dns.certificatesResolvers.letsencrypt.acme.caServer).toBe(
      "https://acme-staging-v02.api.letsencrypt.org/directory",
    );
    expect(dns.entryPoints.websecure.http.tls.domains).toEqual([
      { main: "home.example.com", sans: ["*.home.example.com"] },
    ]);
  });

  it("dynamic config is valid and puts the dashboard behind basic auth and security headers", () => {
    const doc = parse(renderTraefikDynamic("traefik.home.example.com"));
    expect(dynamicSchema(doc), JSON.stringify(dynamicSchema.errors)).toBe(true);
    expect(doc.http.routers.dashboard).toMatchObject({
      rule: "Host(`traefik.home.example.com`)",
      service: "api@internal",
      middlewares: ["secure-headers", "admin-auth"],
    });
    expect(doc.http.middlewares["admin-auth"].basicAuth.usersFile).toBe("/etc/traefik/users");
    expect(doc.http.middlewares["secure-headers"].headers).toMatchObject({
      stsSeconds: 31536000,
      frameDeny: true,
      contentTypeNosniff: true,
    });
    expect(doc.tls.options.default.minVersion).toBe("VersionTLS12");
  });

  it("route labels: TLS, resolver, headers, and auth only for admin UIs", () => {
    const plain = traefikLabels({
      name: "vaultwarden",
      host: "vault.home.example.com",
      port: 80,
      admin: false,
    });
    expect(plain).toEqual({
      "traefik.docker.network": "homelab-proxy",
      "traefik.enable": "true",
      "traefik.http.routers.vaultwarden.entrypoints": "websecure",
      "traefik.http.routers.vaultwarden.middlewares": "secure-headers@file",
      "traefik.http.routers.vaultwarden.rule": "Host(`vault.home.example.com`)",
      "traefik.http.routers.vaultwarden.service": "vaultwarden",
      "traefik.http.routers.vaultwarden.tls": "true",
      "traefik.http.routers.vaultwarden.tls.certresolver": "letsencrypt",
      "traefik.http.services.vaultwarden.loadbalancer.server.port": "80",
    });
    expect(Object.keys(plain)).toEqual(Object.keys(plain).sort());
    const admin = traefikLabels({
      name: "mail",
      host: "mail.cloud.example.com",
      port: 8080,
      admin: true,
    });
    expect(admin["traefik.http.routers.mail.middlewares"]).toBe(
      "secure-headers@file,admin-auth@file",
    );
  });
});

describe("Gatus", () => {
  const svc: ResolvedService = {
    name: "mail",
    image: "stalwartlabs/stalwart:v0.13.4",
    env: {},
    volumes: [],
    http: {
      port: 8080,
      subdomain: "mail",
      healthPath: "/healthz/live",
      expectStatus: 200,
      admin: true,
      groups: [],
    },
    ports: [
      { port: 25, hostPort: 25, protocol: "tcp", check: "tcp" },
      { port: 587, hostPort: 587, protocol: "tcp", check: "starttls" },
      { port: 993, hostPort: 993, protocol: "tcp", check: "tls" },
      { port: 4190, hostPort: 4190, protocol: "tcp", check: "none" },
    ],
    updates: "pinned",
    dependsOn: [],
    description: "mail",
  };

  it("a service derives an HTTPS check and one check per published port", () => {
    expect(serviceEndpoints(svc, "cloud.example.com")).toEqual([
      {
        name: "mail",
        url: "https://mail.cloud.example.com/healthz/live",
        // Admin route: Traefik's basic auth answers 401 to Gatus, which sends no login.
        conditions: ["[STATUS] == 401", "[CERTIFICATE_EXPIRATION] > 168h"],
      },
      {
        name: "mail-tcp-25",
        url: "tcp://mail.cloud.example.com:25",
        conditions: ["[CONNECTED] == true"],
      },
      {
        name: "mail-starttls-587",
        url: "starttls://mail.cloud.example.com:587",
        conditions: ["[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 168h"],
      },
      {
        name: "mail-tls-993",
        url: "tls://mail.cloud.example.com:993",
        conditions: ["[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 168h"],
      },
    ]);
  });

  it("renders secrets as environment references and heartbeats with their own interval and thresholds", () => {
    const text = renderGatusConfig({
      server: "home",
      local: [{ name: "x", url: "https://x.home.example.com/", conditions: ["[STATUS] == 200"] }],
      peers: {
        offsite: [
          {
            name: "gatus",
            url: "https://status.offsite.example.com/health",
            conditions: ["[STATUS] == 200"],
          },
        ],
      },
      heartbeats: [
        { name: "backup-x", schedule: "15 2 * * *" },
        { name: "check-x", schedule: "30 4 * * 0" },
      ],
      ntfy: { url: "https://ntfy.cloud.example.com", topic: "homelab-home" },
      fallback: { kind: "ntfy", url: "https://ntfy.sh", topic: "fallback-topic" },
      ntfyServer: "cloud",
      private: true,
    });
    expect(text).not.toMatch(/tk_|password:(?! \$\{)/);
    const doc = parse(text);
    expect(doc.security.basic["password-bcrypt-base64"]).toBe("${GATUS_PASSWORD_BCRYPT_B64}");
    expect(doc["external-endpoints"]).toEqual([
      {
        name: "backup-x",
        group: "home-jobs",
        token: "${HEARTBEAT_TOKEN}",
        heartbeat: { interval: "28h" },
        alerts: [{ type: "ntfy", "failure-threshold": 1, "success-threshold": 1 }],
      },
      {
        name: "check-x",
        group: "home-jobs",
        token: "${HEARTBEAT_TOKEN}",
        heartbeat: { interval: "186h" },
        alerts: [{ type: "ntfy", "failure-threshold": 1, "success-threshold": 1 }],
      },
    ]);
    expect(
      doc.endpoints.map((e: { group: string; name: string }) => `${e.group}/${e.name}`),
    ).toEqual(["home/x", "offsite/gatus"]);
  });

  it("without ntfy every endpoint alerts through the fallback", () => {
    const doc = parse(
      renderGatusConfig({
        server: "offsite",
        local: [{ name: "x", url: "https://x/", conditions: [] }],
        peers: {},
        heartbeats: [],
        fallback: {
          kind: "email",
          to: "me@example.org",
          host: "smtp.example.org",
          port: 587,
          user: "alerts@example.org",
        },
        ntfyServer: "",
        private: false,
      }),
    );
    expect(doc.endpoints[0].alerts).toEqual([{ type: "email" }]);
    expect(doc.alerting.ntfy).toBeUndefined();
    expect(doc.security).toBeUndefined();
  });
});

describe("cron", () => {
  it.each([
    ["0 3 * * *", 24 * 60],
    ["*/15 * * * *", 15],
    ["30 4 * * 0", 7 * 24 * 60],
    ["0 0,12 * * *", 12 * 60],
    ["0 6 1 * *", 31 * 24 * 60],
  ])("largest gap of %s is %i minutes", (expr, gap) => {
    expect(cronMaxGapMinutes(expr)).toBe(gap);
  });

  it.each([
    ["0 3 * * *", true],
    ["61 * * * *", false],
    ["0 3 * *", false],
    ["0 24 * * *", false],
    ["*/0 * * * *", false],
    ["5-1 * * * *", false],
    ["@daily", false],
  ])("isCron(%j) = %s", (expr, ok) => {
    expect(isCron(expr)).toBe(ok);
  });
});

describe("restic job script", () => {
  const writer: BackupScriptInput = {
    server: "home",
    mode: "writer",
    repos: [
      {
        origin: "home",
        service: "immich-db",
        repository: "/backups/home/immich-db",
        passwordFile: "/run/homelab/restic-password",
        heartbeats: {
          backup: "home-jobs_backup-immich-db",
          check: "home-jobs_check-immich-db",
          drill: "home-jobs_drill-immich-db",
        },
        verifyFiles: [],
        databases: [],
        dumpFile: "immich.sql",
      },
    ],
    writer: {
      volumes: ["library"],
      dump: {
        command: "pg_dump -h immich-db -U immich immich",
        filename: "immich.sql",
        envFile: "/run/homelab/dump.env",
      },
      retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 6 },
      capture: { kind: "dump" },
    },
    gatusUrl: "http://gatus:8080",
    ntfyUrl: "https://ntfy.cloud.example.com/homelab-home",
    checkSubset: "5%",
    packages: ["postgresql17-client"],
  };
  const replica: BackupScriptInput = {
    ...writer,
    mode: "replica",
    writer: undefined,
    packages: [],
    repos: [
      {
        ...writer.repos[0]!,
        heartbeats: {
          check: "offsite-jobs_check-home-immich-db",
          drill: "offsite-jobs_drill-home-immich-db",
        },
      },
      {
        ...writer.repos[0]!,
        service: "it's",
        repository: "/backups/home/it's",
        heartbeats: { check: "c", drill: "d" },
      },
    ],
  };

  const storage: BackupScriptInput = {
    ...replica,
    mode: "storage",
    repos: replica.repos.map((r) => ({
      ...r,
      passwordFile: "",
      heartbeats: { verify: `v-${r.service}` },
    })),
  };

  it.skipIf(lacks("shellcheck", "busybox")).each([
    ["writer", writer],
    ["replica", replica],
    ["storage", storage],
  ])("the %s script is clean POSIX sh for shellcheck and busybox", (_, input) => {
    const dir = mkdtempSync(join(tmpdir(), "homelab-script-"));
    const file = join(dir, "homelab-backup");
    writeFileSync(file, renderBackupScript(input));
    execFileSync("shellcheck", ["-s", "sh", file], { stdio: "pipe" });
    execFileSync("busybox", ["sh", "-n", file], { stdio: "pipe" });
  });

  it("writer: backs up the read-only volumes and the dump, applies retention, never inits over an unreadable repository", () => {
    const s = renderBackupScript(writer);
    expect(s).toContain("BACKUP_VOLUMES='library'");
    expect(s).toContain(
      '--stdin-filename "$DUMP_FILENAME" --stdin-from-command -- sh -c "$DUMP_COMMAND"',
    );
    expect(s).toContain("DUMP_COMMAND='pg_dump -h immich-db -U immich immich'");
    expect(s).toContain("KEEP_DAILY=7\nKEEP_WEEKLY=4\nKEEP_MONTHLY=6");
    expect(s).toContain("--prune");
    expect(s).toContain("PACKAGES='postgresql17-client'");
    // init only where the repository directory is absent or empty
    expect(s).toMatch(
      /\[ ! -e "\$RESTIC_REPOSITORY" \] \|\| \[ -z "\$\(ls -A "\$RESTIC_REPOSITORY"/,
    );
  });

  it("replica: reads without locks and quotes hostile names", () => {
    const s = renderBackupScript(replica);
    expect(s).toContain("MODE='replica'");
    expect(s).toContain('"$RESTIC" --no-lock "$@"');
    expect(s).toContain("SERVICE='it'\\''s'");
    expect(s).toContain("REPO_COUNT=2");
  });

  /**
   * Runs the rendered script as its container would (busybox sh) with `args`: restic is a stub
   * (the script's $RESTIC) that logs its arguments and fails `check` when asked; busybox runs
   * its own wget applet before anything on PATH, so wget is a shell function defined before
   * the script is sourced, logging its arguments. The secrets directory is a scratch one,
   * holding `secrets`.
   */
  function runScript(
    input: BackupScriptInput,
    args: string[],
    opts: { secrets: Record<string, string>; failCheck?: boolean },
  ) {
    const dir = mkdtempSync(join(tmpdir(), "homelab-script-run-"));
    const secrets = join(dir, "secrets");
    mkdirSync(secrets);
    for (const [f, v] of Object.entries(opts.secrets)) writeFileSync(join(secrets, f), v);
    const script = renderBackupScript(input).replace(
      "SECRETS='/run/homelab'",
      `SECRETS='${secrets}'`,
    );
    expect(script).toContain(`SECRETS='${secrets}'`);
    writeFileSync(join(dir, "homelab-backup"), script);
    const restic = join(dir, "restic");
    writeFileSync(
      restic,
      '#!/bin/sh\necho "restic $*" >>"$LOG"\n' +
        'case " $* " in *" check "*) [ -z "$FAIL_CHECK" ] || { echo "Fatal: repository is damaged" >&2; exit 1; } ;; esac\n',
      { mode: 0o755 },
    );
    const log = join(dir, "log");
    writeFileSync(log, "");
    const r = spawnSync(
      "busybox",
      [
        "sh",
        "-c",
        'wget() { echo "wget $*" >>"$LOG"; }; set -- "$@"; . "$SCRIPT"',
        "homelab-backup",
        ...args,
      ],
      {
        env: {
          PATH: "/usr/bin:/bin",
          LOG: log,
          RESTIC: restic,
          SCRIPT: join(dir, "homelab-backup"),
          TMPDIR: dir,
          ...(opts.failCheck ? { FAIL_CHECK: "1" } : {}),
        },
        encoding: "utf8",
      },
    );
    return { ...r, calls: readFileSync(log, "utf8").trim().split("\n") };
  }

  it.skipIf(lacks("busybox"))(
    "a failed job without the ntfy token file (ntfy not deployed yet) skips ntfy without error",
    () => {
      const r = runScript(writer, ["check", "1"], {
        secrets: { "heartbeat-token": "hb" },
        failCheck: true,
      });
      expect(r.error).toBeUndefined();
      expect(r.stderr).toBe("");
      // The job failed (exit 1) and says so in its heartbeat; nothing is sent to ntfy and
      // nothing about ntfy is an error.
      expect(r.status).toBe(1);
      const wgets = r.calls.filter((c) => c.startsWith("wget "));
      expect(wgets).toHaveLength(1);
      expect(wgets[0]).toContain("http://gatus:8080/api/v1/endpoints/home-jobs_check-immich-db/");
      expect(wgets[0]).toContain("success=false");
      expect(r.calls.join("\n")).not.toContain("ntfy.cloud.example.com");
      expect(r.stdout).toContain("check FAILED: restic check failed: Fatal: repository is damaged");
      expect(r.stdout).not.toContain("could not be sent");
    },
  );

  it.skipIf(lacks("busybox"))(
    "a failed job with the ntfy token file sends it to ntfy with the token",
    () => {
      const r = runScript(writer, ["check", "1"], {
        secrets: { "heartbeat-token": "hb", "ntfy-token": "tk_abc" },
        failCheck: true,
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(1);
      const ntfy = r.calls.filter((c) => c.includes("https://ntfy.cloud.example.com/homelab-home"));
      expect(ntfy).toHaveLength(1);
      expect(ntfy[0]).toContain("--header Authorization: Bearer tk_abc");
    },
  );

  // `restic check` takes an exclusive lock (restic v0.18.0 cmd/restic/cmd_check.go:242
  // openWithExclusiveLock; cmd/restic/lock.go:19 passes gopts.RetryLock to repository.Lock)
  // and without a wait fails at once on any other lock. --retry-lock is a global flag
  // (cmd/restic/global.go:108, added in restic 0.16.0: changelog/0.16.0_2023-07-31/issue-719),
  // so check accepts it. The sidecars run restic/restic:0.18.0.
  it.skipIf(lacks("busybox"))(
    "writer: check waits for a lock held by a backup or prune (--retry-lock)",
    () => {
      const r = runScript(writer, ["check", "1"], { secrets: { "heartbeat-token": "hb" } });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.calls.filter((c) => /^restic .*\bcheck\b/.test(c))).toEqual([
        "restic check --retry-lock 30m --read-data-subset=5%",
      ]);
    },
  );

  it.skipIf(lacks("busybox"))(
    "replica: check takes no lock at all (--no-lock); the flag is moot there",
    () => {
      const r = runScript(replica, ["check", "1"], { secrets: { "heartbeat-token": "hb" } });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.calls.filter((c) => /^restic .*\bcheck\b/.test(c))).toEqual([
        "restic --no-lock check --retry-lock 30m --read-data-subset=5%",
      ]);
    },
  );

  it("refuses a writer script without exactly one repository", () => {
    expect(() => renderBackupScript({ ...writer, repos: [] })).toThrow(
      "renderBackupScript: a writer script needs `writer` and exactly one repository",
    );
  });

  it("crontab and env file", () => {
    expect(renderCrontab([{ schedule: "0 3 * * *", args: "backup" }])).toBe(
      "# homelab backup jobs. Generated by homelab; do not edit.\n0 3 * * * /bin/sh /usr/local/bin/homelab-backup backup >/proc/1/fd/1 2>&1\n",
    );
    expect(renderEnvFile({ PGPASSWORD: "a'b", A: "1" })).toBe(
      "export A='1'\nexport PGPASSWORD='a'\\''b'\n",
    );
  });
});

describe("Syncthing", () => {
  it("derives the same device ID as syncthing itself (known answer from syncthing 1.19.2)", async () => {
    const id = await syncthingIdentity(Buffer.alloc(32, 9).toString("base64"));
    expect(id.deviceId).toBe("I5UI2ZT-BIOPZDO-WW5BCHP-KWMUH2B-IRSX5IG-ZDFZTJY-HGUVQNY-BHBRPQC");
    const der = Buffer.from(id.certPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    expect(deviceIdFromCert(der)).toBe(id.deviceId);
  });

  it("the identity is stable for a seed and distinct across seeds", async () => {
    const seed = Buffer.alloc(32, 1).toString("base64");
    const [a, b, c] = await Promise.all([
      syncthingIdentity(seed),
      syncthingIdentity(seed),
      syncthingIdentity(Buffer.alloc(32, 2).toString("base64")),
    ]);
    expect(a).toEqual(b);
    expect(c.deviceId).not.toBe(a.deviceId);
    expect(a.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    await expect(syncthingIdentity("c2hvcnQ=")).rejects.toThrow(
      "syncthing seed must be 32 bytes, got 5",
    );
  });

  it("config: send-only own folder, receive-only versioned replicas, devices with addresses, no discovery", async () => {
    const [SELF, OFF, CLD] = (
      await Promise.all(
        [3, 4, 5].map((n) => syncthingIdentity(Buffer.alloc(32, n).toString("base64"))),
      )
    ).map((i) => i.deviceId);
    const xml = renderSyncthingConfig({
      self: { name: "home", deviceId: SELF! },
      devices: [
        { name: "offsite", deviceId: OFF!, address: "tcp://offsite:22000" },
        { name: "cloud", deviceId: CLD!, address: "tcp://cloud:22000" },
      ],
      folders: [
        {
          id: "backups-home",
          label: "mine",
          path: "/backups/home",
          type: "sendonly",
          devices: ["offsite", "cloud"],
        },
        {
          id: "backups-cloud",
          label: "theirs",
          path: "/backups/cloud",
          type: "receiveonly",
          devices: ["cloud"],
          versionsMaxAgeDays: 30,
        },
      ],
      relays: false,
      globalDiscovery: false,
      gui: { user: "admin", passwordBcrypt: "$2a$10$x<y", apiKey: "k" },
    });
    expect(xml.indexOf('id="backups-cloud"')).toBeLessThan(xml.indexOf('id="backups-home"'));
    expect(xml).toMatch(
      new RegExp(
        `<folder id="backups-home"[^>]*type="sendonly"[^]*?<device id="${SELF}"[^]*?<device id="${CLD}"[^]*?<device id="${OFF}"[^]*?<versioning></versioning>`,
      ),
    );
    expect(xml).toMatch(
      /<folder id="backups-cloud"[^>]*type="receiveonly"[^]*?<param key="maxAge" val="2592000">/,
    );
    expect(xml).toContain("<password>$2a$10$x&lt;y</password>");
    expect(xml).toContain("<localAnnounceEnabled>false</localAnnounceEnabled>");
    expect(xml).toContain("<urAccepted>-1</urAccepted>");
  });
});

describe("ntfy", () => {
  it("deny-all, no signup, declared users, access and tokens", () => {
    const doc = parse(
      renderNtfyConfig("https://ntfy.cloud.example.com", [
        {
          name: "publisher-home",
          passwordBcrypt: "$2a$10$h",
          role: "user",
          access: [{ topic: "homelab-home", permission: "write-only" }],
          token: "tk_abc",
        },
        { name: "admin", passwordBcrypt: "$2a$10$a", role: "admin", access: [] },
      ]),
    );
    expect(doc).toMatchObject({
      "base-url": "https://ntfy.cloud.example.com",
      "behind-proxy": true,
      "auth-default-access": "deny-all",
      "enable-signup": false,
      "auth-users": ["admin:$2a$10$a:admin", "publisher-home:$2a$10$h:user"],
      "auth-access": ["publisher-home:homelab-home:write-only"],
      "auth-tokens": ["publisher-home:tk_abc:homelab"],
    });
  });
});
