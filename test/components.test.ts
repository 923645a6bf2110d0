/**
 * Each component's contract, read off the resources the real program registers for the
 * reference stacks: names, ports, mounts, networks, options, labels and secretness.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Secret, computedState } from "../cli/evaluate";
import { imageReference } from "../lib/guardrails/resources";
import {
  T,
  container,
  envs,
  evaluateReference,
  labels,
  ofType,
  one,
  referenceFleet,
  reveal,
  uploadOf,
} from "./helpers";

const fleet = async (stack: string) => (await referenceFleet()).evaluations[stack]!;

describe("every container and volume (components/docker.ts)", () => {
  it.each(["home", "cloud", "offsite"])(
    "%s: fixed names, delete-before-replace with a grace period, restart policy, log rotation",
    async (stack) => {
      const e = await fleet(stack);
      for (const c of ofType(e, T.container)) {
        const at = String(c.inputs.name);
        expect(c.inputs.name, at).toMatch(/^[a-z0-9-]+$/);
        expect(c.options.deleteBeforeReplace, at).toBe(true);
        // A replacement stops it first (test/docker-provider.test.ts has the why).
        expect(c.inputs.destroyGraceSeconds, at).toBeGreaterThanOrEqual(10);
        // The backup layout job runs once at create (components/backup-layout.ts).
        const oneShot = at === "backup-layout";
        expect(c.inputs.restart, at).toBe(oneShot ? "on-failure" : "unless-stopped");
        expect(c.inputs.mustRun, at).toBe(oneShot ? false : undefined);
        expect(c.inputs.logDriver, at).toBe("json-file");
        expect(reveal(c.inputs.logOpts), at).toEqual({ "max-file": "3", "max-size": "10m" });
        expect(labels(c)["homelab.managed-by"], at).toBe("pulumi");
        const keys = (reveal(c.inputs.labels) as { label: string }[]).map((l) => l.label);
        expect(keys, at).toEqual([...keys].sort());
        const envKeys = ((reveal(c.inputs.envs) ?? []) as string[]).map((x) => x.split("=")[0]);
        expect(envKeys, at).toEqual([...envKeys].sort());
      }
    },
  );

  it.each(["home", "cloud", "offsite"])(
    "%s: data volumes are retained on delete, caches are not",
    async (stack) => {
      const e = await fleet(stack);
      const volumes = ofType(e, T.volume);
      expect(volumes.length).toBeGreaterThan(2);
      for (const v of volumes) {
        const kind = (reveal(v.inputs.labels) as { label: string; value: string }[]).find(
          (l) => l.label === "homelab.kind",
        )!.value;
        expect(v.options.retainOnDelete, String(v.inputs.name)).toBe(kind === "data");
        expect(v.options.deleteBeforeReplace).toBe(true);
      }
      expect(one(e, T.volume, `${stack}-backups`).inputs.name).toBe("homelab-backups");
    },
  );

  it("images are pulled by Pulumi and kept locally; containers run the image ID Pulumi recorded", async () => {
    const e = await fleet("home");
    const img = one(e, T.image, "home-immich-container-image");
    expect(img.inputs).toMatchObject({
      name: "ghcr.io/immich-app/immich-server:v1.135.3",
      keepLocally: true,
    });
    // The ID, not the tag: the provider creates a container through findImage, which takes
    // whatever the tag names on the host then (kreuzwerker/terraform-provider-docker v4.5.0
    // internal/provider/resource_docker_container_funcs.go:49-53), and Watchtower monitor-only
    // still pulls new images for the tag.
    expect(container(e, "immich").inputs.image).toBe(
      computedState(T.image, img.name, img.inputs).imageId,
    );
  });

  it("a notify container names its tag for Watchtower, which sees only an ID otherwise", async () => {
    const e = await fleet("home");
    // Watchtower takes the image name from this label before Config.Image, and treats a
    // sha256: image as pinned (nicholas-fedor/watchtower v1.21.0 pkg/container/container.go:720-736,
    // image.go:60-68).
    expect(labels(container(e, "home-assistant"))).toMatchObject({
      "com.centurylinklabs.zodiac.original-image":
        "ghcr.io/home-assistant/home-assistant:2025.11.3",
      "com.centurylinklabs.watchtower.monitor-only": "true",
    });
    expect(labels(container(e, "vaultwarden"))).not.toHaveProperty(
      "com.centurylinklabs.zodiac.original-image",
    );
  });
});

describe("Traefik", () => {
  it("only the socket proxy holds the Docker socket, read-only, on an internal network", async () => {
    const e = await fleet("home");
    const proxy = container(e, "traefik-socket-proxy");
    expect(reveal(proxy.inputs.volumes)).toEqual([
      { hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true },
    ]);
    expect(envs(proxy).values).toMatchObject({
      CONTAINERS: "1",
      POST: "0",
      SERVICES: "0",
      TASKS: "0",
    });
    expect(reveal(proxy.inputs.networksAdvanced)).toEqual([{ name: "homelab-socket" }]);
    expect(one(e, T.network, "home-net-socket").inputs).toMatchObject({
      name: "homelab-socket",
      internal: true,
    });
    const traefik = container(e, "traefik");
    expect(JSON.stringify(reveal(traefik.inputs.volumes))).not.toContain("docker.sock");
    expect(reveal(traefik.inputs.ports)).toEqual([
      { internal: 80, external: 80, protocol: "tcp" },
      { internal: 443, external: 443, protocol: "tcp" },
    ]);
    expect(reveal(traefik.inputs.networksAdvanced)).toEqual([
      { name: "homelab-proxy" },
      { name: "homelab-socket" },
    ]);
    expect(traefik.options.dependsOn).toEqual(["home-traefik-socket-proxy"]);
  });

  it("persists ACME storage and keeps the dashboard login and DNS token secret", async () => {
    const e = await fleet("home");
    const traefik = container(e, "traefik");
    expect(reveal(traefik.inputs.volumes)).toEqual([
      { volumeName: "traefik-acme", containerPath: "/letsencrypt" },
    ]);
    const users = uploadOf(traefik, "/etc/traefik/users");
    expect(users.content).toMatch(/^admin:\$2a\$10\$/);
    expect(users.secret).toBe(true);
    const env = envs(traefik);
    expect(env.values.CF_DNS_API_TOKEN).toBe("placeholder-acmeDnsToken");
    expect(env.secret).toBe(true);
    const staticCfg = parse(uploadOf(traefik, "/etc/traefik/traefik.yml").content);
    expect(staticCfg.certificatesResolvers.letsencrypt.acme.dnsChallenge.provider).toBe(
      "cloudflare",
    );
    const cloud = parse(
      uploadOf(container(await fleet("cloud"), "traefik"), "/etc/traefik/traefik.yml").content,
    );
    expect(cloud.certificatesResolvers.letsencrypt.acme.httpChallenge).toEqual({
      entryPoint: "web",
    });
  });
});

describe("Service", () => {
  it("routes through Traefik with TLS and headers, on the proxy and its group network", async () => {
    const e = await fleet("home");
    const immich = container(e, "immich");
    expect(labels(immich)).toMatchObject({
      "traefik.enable": "true",
      "traefik.http.routers.immich.rule": "Host(`photos.home.example.com`)",
      "traefik.http.routers.immich.middlewares": "secure-headers@file",
      "traefik.http.services.immich.loadbalancer.server.port": "2283",
    });
    expect(reveal(immich.inputs.networksAdvanced)).toEqual([
      { name: "homelab-proxy" },
      { name: "homelab-immich" },
    ]);
    expect(one(e, T.network, "home-net-immich").inputs).toMatchObject({
      name: "homelab-immich",
      internal: true,
    });
    expect(immich.options.dependsOn).toEqual([
      "home-immich-db-container",
      "home-immich-redis-container",
    ]);
  });

  it("a database is not routed, only on its group's internal network, and gets its password as a secret", async () => {
    const e = await fleet("home");
    const db = container(e, "immich-db");
    expect(labels(db)["traefik.enable"]).toBeUndefined();
    expect(reveal(db.inputs.networksAdvanced)).toEqual([{ name: "homelab-immich" }]);
    const env = envs(db);
    expect(env.secret).toBe(true);
    expect(env.values.POSTGRES_PASSWORD).toBe(envs(container(e, "immich")).values.DB_PASSWORD);
    expect(env.values.POSTGRES_PASSWORD).toMatch(/^[0-9a-fA-F]{32}$/);
  });

  it("published ports of the mail server", async () => {
    const mail = container(await fleet("cloud"), "mail");
    expect(reveal(mail.inputs.ports)).toEqual(
      [25, 465, 587, 993].map((p) => ({ internal: p, external: p, protocol: "tcp" })),
    );
    expect(labels(mail)["traefik.http.routers.mail.middlewares"]).toBe(
      "secure-headers@file,admin-auth@file",
    );
  });
});

describe("ResticBackup", () => {
  it("mounts the service's data volumes read-only and the repository volume, and runs the generated jobs", async () => {
    const e = await fleet("home");
    const sidecar = container(e, "immich-backup");
    expect(imageReference(e, sidecar)).toBe("restic/restic:0.18.0");
    expect(reveal(sidecar.inputs.entrypoints)).toEqual([
      "/bin/sh",
      "/usr/local/bin/homelab-backup",
    ]);
    expect(reveal(sidecar.inputs.command)).toEqual(["daemon"]);
    expect(reveal(sidecar.inputs.volumes)).toEqual([
      { volumeName: "immich-library", containerPath: "/data/library", readOnly: true },
    ]);
    // Its own repository only: the directory of the backup volume, at the same path.
    expect(reveal(sidecar.inputs.mounts)).toEqual([
      {
        type: "volume",
        source: "homelab-backups",
        target: "/backups/home/immich",
        readOnly: false,
        volumeOptions: { subpath: "home/immich" },
      },
    ]);
    const script = uploadOf(sidecar, "/usr/local/bin/homelab-backup");
    expect(script.permissions).toBe("0555");
    expect(script.content).toContain("export RESTIC_REPOSITORY='/backups/home/immich'");
    expect(script.content).toContain("GATUS_URL='http://gatus:8080'");
    expect(script.content).toContain("NTFY_URL='https://ntfy.cloud.example.com/homelab-home'");
    expect(uploadOf(sidecar, "/etc/crontabs/root").content).toContain(
      "15 3 * * * /bin/sh /usr/local/bin/homelab-backup backup",
    );
    const pw = uploadOf(sidecar, "/run/homelab/restic-password");
    expect(pw).toMatchObject({ secret: true, permissions: "0400" });
    expect(pw.content).toBe(
      (reveal((await fleet("home")).outputs.backupPasswords) as Record<string, string>).immich,
    );
  });

  it("a database is dumped through --stdin-from-command with its credentials in a secret file", async () => {
    const sidecar = container(await fleet("home"), "immich-db-backup");
    expect(reveal(sidecar.inputs.volumes)).toEqual([]);
    expect(reveal(sidecar.inputs.mounts)).toEqual([
      {
        type: "volume",
        source: "homelab-backups",
        target: "/backups/home/immich-db",
        readOnly: false,
        volumeOptions: { subpath: "home/immich-db" },
      },
    ]);
    expect(reveal(sidecar.inputs.networksAdvanced)).toEqual([
      { name: "homelab-proxy" },
      { name: "homelab-immich" },
    ]);
    const script = uploadOf(sidecar, "/usr/local/bin/homelab-backup").content;
    expect(script).toContain(
      "DUMP_COMMAND='pg_dump --clean --if-exists -h immich-db -U immich immich'",
    );
    expect(script).toContain("BACKUP_VOLUMES=''");
    const env = uploadOf(sidecar, "/run/homelab/dump.env");
    expect(env.secret).toBe(true);
    expect(env.content).toMatch(/^export PGPASSWORD='[0-9a-fA-F]{32}'\n$/);
  });

  it("stack config overrides win over stacks/home.ts (retention, env, image)", async () => {
    const e = await fleet("home");
    expect(
      uploadOf(container(e, "vaultwarden-backup"), "/usr/local/bin/homelab-backup").content,
    ).toContain("KEEP_DAILY=14");
    expect(
      uploadOf(container(e, "immich-backup"), "/usr/local/bin/homelab-backup").content,
    ).toContain("KEEP_DAILY=7");
    expect(envs(container(e, "vaultwarden")).values).toMatchObject({
      INVITATIONS_ALLOWED: "true",
      SIGNUPS_ALLOWED: "false",
    });
  });
});

describe("Ntfy", () => {
  it("is private: deny-all, no signup, write-only publishers, config uploaded as a secret", async () => {
    const e = await fleet("cloud");
    const ntfy = container(e, "ntfy");
    const cfg = uploadOf(ntfy, "/etc/ntfy/server.yml");
    expect(cfg.secret).toBe(true);
    const doc = parse(cfg.content);
    expect(doc).toMatchObject({
      "auth-default-access": "deny-all",
      "enable-signup": false,
      "behind-proxy": true,
    });
    expect(doc["auth-access"]).toEqual([
      "phone:homelab-*:read-only",
      "publisher-cloud:homelab-cloud:write-only",
      "publisher-home:homelab-home:write-only",
      "publisher-offsite:homelab-offsite:write-only",
    ]);
    expect(doc["auth-users"].map((u: string) => u.split(":")[0])).toEqual([
      "admin",
      "phone",
      "publisher-cloud",
      "publisher-home",
      "publisher-offsite",
    ]);
    const tokens = reveal(e.outputs.ntfyPublishTokens) as Record<string, string>;
    expect(doc["auth-tokens"]).toContain(`publisher-home:${tokens.home}:homelab`);
    expect(ofType(await fleet("home"), T.container).map((c) => c.inputs.name)).not.toContain(
      "ntfy",
    );
  });
});

describe("Gatus", () => {
  it("is private by default, keeps its data, and gets its secrets through the environment", async () => {
    const e = await fleet("home");
    const gatus = container(e, "gatus");
    const env = envs(gatus);
    expect(env.secret).toBe(true);
    // One heartbeat token per container that pushes heartbeats.
    expect(Object.keys(env.values)).toEqual([
      "GATUS_PASSWORD_BCRYPT_B64",
      "HEARTBEAT_TOKEN_BACKUP_REPLICAS",
      "HEARTBEAT_TOKEN_HOME_ASSISTANT_BACKUP",
      "HEARTBEAT_TOKEN_IMMICH_BACKUP",
      "HEARTBEAT_TOKEN_IMMICH_DB_BACKUP",
      "HEARTBEAT_TOKEN_VAULTWARDEN_BACKUP",
      "NTFY_TOKEN",
      "TZ",
    ]);
    expect(Buffer.from(env.values.GATUS_PASSWORD_BCRYPT_B64!, "base64").toString()).toMatch(
      /^\$2a\$10\$/,
    );
    expect(reveal(gatus.inputs.volumes)).toEqual([
      { volumeName: "gatus-data", containerPath: "/data" },
    ]);
    const cfg = uploadOf(gatus, "/config/config.yaml");
    expect(cfg.content).not.toContain(env.values.HEARTBEAT_TOKEN_IMMICH_BACKUP);
    // It holds no secret, so it is not one: previews show its diff.
    for (const stack of ["home", "cloud", "offsite"]) {
      expect(
        uploadOf(container(await fleet(stack), "gatus"), "/config/config.yaml").secret,
        stack,
      ).toBe(false);
    }
    expect(labels(gatus)["traefik.http.routers.gatus.rule"]).toBe(
      "Host(`status.home.example.com`)",
    );
  });

  it("gatusPublic drops the login", async () => {
    const e = await evaluateReference("offsite", { overrides: { gatusPublic: true } });
    const cfg = parse(uploadOf(container(e, "gatus"), "/config/config.yaml").content);
    expect(cfg.security).toBeUndefined();
    expect(Object.keys(envs(container(e, "gatus")).values)).not.toContain(
      "GATUS_PASSWORD_BCRYPT_B64",
    );
  });
});

describe("update policies", () => {
  it("auto: Pulumi resolves the tag's digest on every run and the container follows it", async () => {
    const e = await evaluateReference("home", {
      overrides: { services: { "immich-redis": { updates: "auto" } } },
    });
    const img = one(e, T.image, "home-immich-redis-container-image");
    expect(reveal(img.inputs.pullTriggers)).toEqual([
      expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    ]);
    // The image ID, as the provider stores a container's image: a repo-digest input would
    // differ from the stored value on every run and recreate the container.
    expect(container(e, "immich-redis").inputs.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(labels(container(e, "immich-redis"))["com.centurylinklabs.watchtower.enable"]).toBe(
      "false",
    );
  });

  it("disabling a service removes it and its backup", async () => {
    const e = await evaluateReference("home", {
      overrides: { services: { "home-assistant": { enabled: false } } },
    });
    const names = ofType(e, T.container).map((c) => c.inputs.name);
    expect(names).not.toContain("home-assistant");
    expect(names).not.toContain("home-assistant-backup");
    expect(names).toContain("vaultwarden");
  });
});

describe("first deployment", () => {
  it("a pending peer is not referenced; the stack still builds, with a warning", async () => {
    const e = await evaluateReference("home", { overrides: { pendingPeers: ["offsite"] } });
    expect(e.references).toEqual(["organization/homelab/cloud"]);
    expect(e.warnings).toContain(
      'peer "offsite" is listed in pendingPeers: nothing is read from it. After its first `pulumi up --stack offsite`, remove it from pendingPeers and run `pulumi up --stack home` again.',
    );
    expect(ofType(e, T.container).length).toBeGreaterThan(10);
  });

  it("peers without outputs give one clear warning each and an empty Gatus peer list", async () => {
    const e = await evaluateReference("offsite");
    expect(e.warnings).toEqual(
      expect.arrayContaining([
        'peer "home" has no outputs: it is not deployed yet. Deploy it (`pulumi up --stack home`), then run `pulumi up --stack offsite` again; until then nothing of it is watched or replicated.',
      ]),
    );
    const cfg = parse(uploadOf(container(e, "gatus"), "/config/config.yaml").content);
    expect(cfg.endpoints.every((x: { group: string }) => x.group === "offsite")).toBe(true);
    expect(cfg.alerting.ntfy).toBeUndefined();
    expect(cfg.alerting.custom.url).toBe("https://ntfy.sh/homelab-example-7f3k9q-fallback");
  });
});

describe("secrets", () => {
  it("outputs carry generated secrets only as Pulumi secrets", async () => {
    const e = await fleet("cloud");
    expect(e.outputs.backupPasswords).toBeInstanceOf(Secret);
    expect(e.outputs.credentials).toBeInstanceOf(Secret);
    expect(e.outputs.endpoints).not.toBeInstanceOf(Secret);
    const plain = JSON.stringify(e.outputs);
    for (const pw of Object.values(reveal(e.outputs.backupPasswords) as Record<string, string>)) {
      expect(plain).not.toContain(pw);
    }
  });
});
