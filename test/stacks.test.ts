/**
 * The three reference stacks, evaluated with their real Pulumi.<stack>.yaml and each other's
 * outputs: what runs where, on which provider, and how the servers are wired together.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Secret } from "../cli/evaluate";
import {
  T,
  container,
  envs,
  labels,
  ofType,
  one,
  referenceFleet,
  reveal,
  uploadOf,
} from "./helpers";

const STANDARD = [
  "traefik",
  "traefik-socket-proxy",
  "gatus",
  "syncthing",
  "watchtower",
  "backup-replicas",
  "backup-layout",
];

describe("reference fleet", () => {
  it("settles its stack references in two rounds, with no warnings left", async () => {
    const { evaluations, rounds } = await referenceFleet();
    expect(rounds).toBe(2);
    for (const e of Object.values(evaluations)) expect(e.warnings, e.stack).toEqual([]);
  });

  it.each([
    [
      "home",
      [
        ...STANDARD,
        "immich",
        "immich-db",
        "immich-redis",
        "vaultwarden",
        "home-assistant",
        "immich-backup",
        "immich-db-backup",
        "vaultwarden-backup",
        "home-assistant-backup",
      ],
    ],
    [
      "cloud",
      [
        ...STANDARD,
        "ntfy",
        "ntfy-backup",
        "authelia",
        "authelia-backup",
        "homepage",
        "mail",
        "mail-backup",
        "mail-backup-docker",
      ],
    ],
    ["offsite", STANDARD],
  ])("%s runs exactly the declared containers", async (stack, expected) => {
    const e = (await referenceFleet()).evaluations[stack]!;
    const names = ofType(e, T.container).map((c) => c.inputs.name);
    expect(names.sort()).toEqual([...expected].sort());
  });

  it.each(["home", "cloud", "offsite"])(
    "%s: one SSH Docker provider, used by every Docker resource",
    async (stack) => {
      const e = (await referenceFleet()).evaluations[stack]!;
      const providers = ofType(e, T.provider);
      expect(providers).toHaveLength(1);
      const p = providers[0]!;
      const host = {
        home: "ssh://deploy@home.tail0e1f2.ts.net:22",
        cloud: "ssh://deploy@cloud.example.com:2222",
        offsite: "ssh://deploy@offsite.tail0e1f2.ts.net:22",
      }[stack];
      expect(p.inputs.host).toBe(host);
      const docker = e.resources.filter((r) => r.type.startsWith("docker:"));
      expect(docker.length).toBeGreaterThan(10);
      for (const r of docker) {
        expect(r.provider, `${r.type} ${r.name}`).toMatch(
          new RegExp(`pulumi:providers:docker::${p.name}::`),
        );
      }
    },
  );

  it("home references cloud and offsite through the self-managed org", async () => {
    const { evaluations } = await referenceFleet();
    expect(evaluations.home!.references).toEqual([
      "organization/homelab/cloud",
      "organization/homelab/offsite",
    ]);
    expect(evaluations.offsite!.references).toEqual([
      "organization/homelab/cloud",
      "organization/homelab/home",
    ]);
  });
});

describe("cross-server monitoring", () => {
  const gatusConfig = async (stack: string) => {
    const e = (await referenceFleet()).evaluations[stack]!;
    return parse(uploadOf(container(e, "gatus"), "/config/config.yaml").content) as {
      endpoints: {
        name: string;
        group: string;
        url: string;
        conditions: string[];
        alerts?: { type: string }[];
      }[];
      "external-endpoints": { name: string; group: string; heartbeat: { interval: string } }[];
      alerting: Record<string, unknown>;
    };
  };

  it("every server watches every peer's services and the peer's own Gatus", async () => {
    const home = await gatusConfig("home");
    const urls = (group: string) =>
      home.endpoints
        .filter((x) => x.group === group)
        .map((x) => x.url)
        .sort();
    expect(urls("cloud")).toEqual([
      "https://auth.cloud.example.com/api/health",
      "https://homepage.cloud.example.com/",
      "https://mail.cloud.example.com/healthz/live",
      "https://ntfy.cloud.example.com/v1/health",
      "https://status.cloud.example.com/health",
      "https://sync.cloud.example.com/rest/noauth/health",
      "https://traefik.cloud.example.com/dashboard/",
      "starttls://mail.cloud.example.com:587",
      "tcp://mail.cloud.example.com:25",
      "tls://mail.cloud.example.com:465",
      "tls://mail.cloud.example.com:993",
    ]);
    expect(urls("offsite")).toContain("https://status.offsite.example.com/health");
    const offsite = await gatusConfig("offsite");
    const seen = offsite.endpoints.filter((x) => x.group === "home").map((x) => x.url);
    expect(seen).toContain("https://photos.home.example.com/api/server/ping");
    expect(seen).toContain("https://status.home.example.com/health");
    const cloud = await gatusConfig("cloud");
    expect(cloud.endpoints.filter((x) => x.group === "home").map((x) => x.name)).toContain(
      "vaultwarden",
    );
  });

  it("mail ports are checked by TCP, STARTTLS and TLS from the other servers", async () => {
    const home = await gatusConfig("home");
    const starttls = home.endpoints.find((x) => x.url === "starttls://mail.cloud.example.com:587")!;
    expect(starttls.conditions).toEqual(["[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 168h"]);
    const smtp = home.endpoints.find((x) => x.url === "tcp://mail.cloud.example.com:25")!;
    expect(smtp.conditions).toEqual(["[CONNECTED] == true"]);
  });

  it("alerts go to ntfy on cloud, and endpoints of the ntfy server also to the fallback", async () => {
    const home = await gatusConfig("home");
    expect(home.alerting.ntfy).toMatchObject({
      url: "https://ntfy.cloud.example.com",
      topic: "homelab-home",
      token: "${NTFY_TOKEN}",
    });
    expect(home.alerting.custom).toMatchObject({
      url: "https://ntfy.sh/homelab-example-7f3k9q-fallback",
      method: "POST",
    });
    const ntfyWatch = home.endpoints.find((x) => x.group === "cloud" && x.name === "ntfy")!;
    expect(ntfyWatch.alerts).toEqual([{ type: "ntfy" }, { type: "custom" }]);
    const local = home.endpoints.find((x) => x.group === "home" && x.name === "vaultwarden")!;
    expect(local.alerts).toEqual([{ type: "ntfy" }]);
    const cloud = await gatusConfig("cloud");
    expect(cloud.alerting.email).toMatchObject({
      to: "alerts@example.org",
      host: "smtp.example.org",
      password: "${SMTP_PASSWORD}",
    });
  });

  it("every backup, check and drill job has a heartbeat endpoint, replicas included", async () => {
    const home = await gatusConfig("home");
    const names = home["external-endpoints"].map((x) => x.name);
    for (const svc of ["immich", "immich-db", "vaultwarden", "home-assistant"]) {
      expect(names).toEqual(
        expect.arrayContaining([`backup-${svc}`, `check-${svc}`, `drill-${svc}`]),
      );
    }
    expect(names).toEqual(expect.arrayContaining(["check-cloud-mail", "drill-cloud-mail"]));
    const backup = home["external-endpoints"].find((x) => x.name === "backup-immich")!;
    expect(backup).toMatchObject({ group: "home-jobs", heartbeat: { interval: "28h" } });
    // offsite keeps replicas without their keys: it verifies them, on the check schedule.
    const offsite = await gatusConfig("offsite");
    // The components' state is backed up too: Authelia's and ntfy's, where they run
    // (components/component-state.ts), and drilled on home like cloud's services.
    expect(names).toEqual(expect.arrayContaining(["drill-cloud-authelia", "drill-cloud-ntfy"]));
    expect(offsite["external-endpoints"].map((x) => x.name).sort()).toEqual([
      "verify-cloud-authelia",
      "verify-cloud-mail",
      "verify-cloud-ntfy",
      "verify-home-home-assistant",
      "verify-home-immich",
      "verify-home-immich-db",
      "verify-home-vaultwarden",
    ]);
  });
});

describe("cross-server replication", () => {
  const syncthingConfig = async (stack: string) => {
    const e = (await referenceFleet()).evaluations[stack]!;
    return uploadOf(container(e, "syncthing"), "/etc/syncthing/config.xml");
  };

  it("home shares its repositories send-only; offsite and cloud receive them read-only with versioning", async () => {
    const { evaluations } = await referenceFleet();
    const ids = Object.fromEntries(
      Object.entries(evaluations).map(([s, e]) => [
        s,
        (reveal(e.outputs.syncthing) as { deviceId: string }).deviceId,
      ]),
    );
    expect(new Set(Object.values(ids)).size).toBe(3);
    const home = (await syncthingConfig("home")).content;
    expect(home).toContain(
      `<folder id="backups-home" label="restic repositories of home" path="/backups/home" type="sendonly"`,
    );
    expect(home).toContain(
      `<folder id="backups-cloud" label="replica of cloud&apos;s restic repositories" path="/backups/cloud" type="receiveonly"`,
    );
    expect(home).not.toContain(`id="backups-offsite"`);
    const offsite = (await syncthingConfig("offsite")).content;
    expect(offsite).toMatch(
      /<folder id="backups-home"[^>]*type="receiveonly"[^]*?<versioning type="staggered">/,
    );
    expect(offsite).toContain(`<device id="${ids.home}" name="home"`);
    expect(offsite).toContain("<address>tcp://home.tail0e1f2.ts.net:22000</address>");
    expect(offsite).toContain("<relaysEnabled>false</relaysEnabled>");
    expect(offsite).toContain("<globalAnnounceEnabled>false</globalAnnounceEnabled>");
  });

  it("the Syncthing config holds the GUI secrets and is uploaded as a secret", async () => {
    const cfg = await syncthingConfig("home");
    expect(cfg.secret).toBe(true);
    expect(cfg.content).toMatch(/<user>admin<\/user>\s*<password>\$2a\$10\$/);
  });

  it("offsite verifies every replica it receives without a key; cloud drills home's with home's passwords", async () => {
    const { evaluations } = await referenceFleet();
    const replicas = container(evaluations.offsite!, "backup-replicas");
    const script = uploadOf(replicas, "/usr/local/bin/homelab-backup").content;
    expect(script).toContain("MODE='storage'");
    expect(script).toContain("REPO_COUNT=7");
    expect(script).toContain(
      "export RESTIC_REPOSITORY='/backups/home/immich-db' RESTIC_PASSWORD_FILE=''",
    );
    expect(uploadOf(replicas, "/etc/crontabs/root").content).toBe(
      "# homelab backup jobs. Generated by homelab; do not edit.\n" +
        "30 4 * * 0 /bin/sh /usr/local/bin/homelab-backup verify >/proc/1/fd/1 2>&1\n",
    );
    // The replicas are mounted read-only: the verifier can never write into them.
    expect(reveal(replicas.inputs.mounts)).toEqual(
      ["cloud", "home"].map((peer) => ({
        type: "volume",
        source: "homelab-backups",
        target: `/backups/${peer}`,
        readOnly: true,
        volumeOptions: { subpath: peer },
      })),
    );
    const homePasswords = reveal(evaluations.home!.outputs.backupPasswords) as Record<
      string,
      string
    >;
    const cloud = container(evaluations.cloud!, "backup-replicas");
    const cloudScript = uploadOf(cloud, "/usr/local/bin/homelab-backup").content;
    expect(cloudScript).toContain("MODE='replica'");
    const n = /\n\s+(\d+)\)\n\s+ORIGIN='home' SERVICE='immich-db'/.exec(cloudScript)![1];
    const file = uploadOf(cloud, `/run/homelab/repo-${n}-password`);
    expect(file.secret).toBe(true);
    expect(file.content).toBe(homePasswords["immich-db"]);
    expect(uploadOf(cloud, "/etc/crontabs/root").content).toContain("homelab-backup drill");
  });

  it("cloud hands each server its own ntfy publish token, as a secret output", async () => {
    const { evaluations } = await referenceFleet();
    const tokens = evaluations.cloud!.outputs.ntfyPublishTokens;
    expect(tokens).toBeInstanceOf(Secret);
    const map = reveal(tokens) as Record<string, string>;
    expect(Object.keys(map).sort()).toEqual(["cloud", "home", "offsite"]);
    for (const t of Object.values(map)) expect(t).toMatch(/^tk_[a-z0-9]{29}$/);
    const gatus = container(evaluations.home!, "gatus");
    const env = envs(gatus);
    expect(env.values.NTFY_TOKEN).toBe(map.home);
    expect(env.secret).toBe(true);
  });

  it("Watchtower notifies through ntfy and never owns a Pulumi container", async () => {
    const { evaluations } = await referenceFleet();
    const wt = container(evaluations.home!, "watchtower");
    const env = envs(wt);
    expect(env.values).toMatchObject({
      WATCHTOWER_LABEL_ENABLE: "true",
      WATCHTOWER_MONITOR_ONLY: "true",
      WATCHTOWER_SCOPE: "home",
    });
    expect(env.values.WATCHTOWER_NOTIFICATION_URL).toMatch(
      /^ntfy:\/\/:tk_[a-z0-9]{29}@ntfy\.cloud\.example\.com\/homelab-home\?scheme=https/,
    );
    expect(env.secret).toBe(true);
    expect(labels(container(evaluations.home!, "home-assistant"))).toMatchObject({
      "com.centurylinklabs.watchtower.enable": "true",
      "com.centurylinklabs.watchtower.monitor-only": "true",
      "com.centurylinklabs.watchtower.scope": "home",
    });
    expect(
      labels(container(evaluations.home!, "immich"))["com.centurylinklabs.watchtower.enable"],
    ).toBe("false");
  });

  it("a peer's summary lists its URLs", async () => {
    const { evaluations } = await referenceFleet();
    expect(reveal(evaluations.home!.outputs.summary)).toMatchObject({
      server: "home",
      status: "https://status.home.example.com",
      services: {
        immich: "https://photos.home.example.com",
        "immich-db": "internal",
        vaultwarden: "https://vault.home.example.com",
      },
    });
    expect(reveal(evaluations.cloud!.outputs.summary)).toMatchObject({
      services: { mail: "https://mail.cloud.example.com" },
      ntfy: "https://ntfy.cloud.example.com",
    });
    expect(one(evaluations.home!, T.server, "home").custom).toBe(false);
  });
});
