/**
 * The backup chain end to end, on two real Docker engines reached over SSH (home, offsite),
 * with the real restic 0.18 and Syncthing 1.29 binaries and the scripts and config files the
 * program generates for the real Pulumi.home.yaml / Pulumi.offsite.yaml (lab addresses only).
 * Scenarios run in order on one lab; each asserts results, not only exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Evaluation } from "../../cli/evaluate";
import { container, envs } from "../helpers";
import {
  FileSet,
  demoFiles,
  gatusHeartbeatKeys,
  generated,
  hashesIn,
  hashesOf,
  installPgDump,
  job,
  replicaIndex,
  scriptHeartbeats,
  sha256,
  startDemoDatabase,
  startForwarder,
  writeServiceFiles,
} from "./fixtures";
import { ContainerPlan, applyServer } from "./harness";
import {
  Recorded,
  Recorder,
  ServerName,
  docker,
  exec,
  execOk,
  labFleet,
  timed,
  timings,
  waitFor,
} from "./lab";

const HOME_CONTAINERS = ["syncthing", "vaultwarden-backup", "immich-db-backup", "backup-replicas"];
const OFFSITE_CONTAINERS = ["syncthing", "backup-replicas"];
const FOLDER = "backups-home";
const REPLICA_DIR = "/backups/home";

const recorder = new Recorder();
let fleet: Record<ServerName, Evaluation>;
const plans: Partial<Record<ServerName, ContainerPlan[]>> = {};
let files: FileSet;
let dump: Buffer;

/** The secret files the program uploads into a container (generated passwords, tokens). */
const secretOf = (s: ServerName, c: string, f: string) => generated(fleet[s], c, f).trim();

function apiKey(s: ServerName): string {
  const xml = generated(fleet[s], "syncthing", "/etc/syncthing/config.xml");
  const m = /<apikey>([^<]+)<\/apikey>/.exec(xml);
  if (!m) throw new Error(`no apikey in ${s}'s config.xml`);
  return m[1]!;
}

/** Syncthing's REST API inside a server's syncthing container. */
async function st(s: ServerName, path: string, post = false): Promise<string> {
  return execOk(
    s,
    "syncthing",
    `wget -q -O - --header 'X-API-Key: ${apiKey(s)}' ${post ? "--post-data ''" : ""} 'http://127.0.0.1:8384${path}'`,
  );
}

/** Every file of the replicated folder (not Syncthing's own) with its sha256. */
async function folderHashes(s: ServerName): Promise<Record<string, string>> {
  const out = await execOk(
    s,
    "syncthing",
    `cd ${REPLICA_DIR} 2>/dev/null || exit 0; find . \\( -path ./.stversions -o -path ./.stfolder \\) -prune -o -type f ! -name '.syncthing.*' -print | sort | while read -r f; do sha256sum "$f"; done`,
  );
  const m: Record<string, string> = {};
  for (const line of out.split("\n").filter(Boolean)) {
    const [hash, path] = line.split(/\s+/, 2) as [string, string];
    m[path.replace(/^\.\//, "")] = hash;
  }
  return m;
}

/** Scans home's folder now (instead of waiting for the watcher) and waits until offsite matches. */
async function replicated(what: string, timeoutMs = 90_000): Promise<Record<string, string>> {
  await st("home", `/rest/db/scan?folder=${FOLDER}`, true);
  return waitFor(
    `${what}: offsite's replica equal to home's repositories`,
    async () => {
      const [h, o] = await Promise.all([folderHashes("home"), folderHashes("offsite")]);
      return Object.keys(h).length > 0 && JSON.stringify(h) === JSON.stringify(o) && h;
    },
    timeoutMs,
    1000,
  );
}

/** Heartbeat keys of a container's generated script (repository `n`). */
const hbOf = (s: ServerName, c: string, n = 1) =>
  scriptHeartbeats(generated(fleet[s], c, "/usr/local/bin/homelab-backup"), n);

const heartbeats = (since: number, key: string) =>
  recorder.since(since, (r) => r.url.startsWith(`/api/v1/endpoints/${key}/external?`));
const alerts = (since: number) => recorder.since(since, (r) => r.scheme === "https");
const query = (r: Recorded) => new URL(r.url, "http://x").searchParams;

/** Asserts one heartbeat for `key` since `t` with the outcome, authenticated with the token. */
function expectHeartbeat(t: number, s: ServerName, key: string, success: boolean): Recorded {
  const hb = heartbeats(t, key);
  expect(
    hb.map((r) => query(r).get("success")),
    `heartbeats of ${key}`,
  ).toEqual([String(success)]);
  const r = hb[0]!;
  expect(r.method).toBe("POST");
  expect(r.from).toBe(s);
  expect(r.headers.authorization).toBe(
    `Bearer ${secretOf(s, "backup-replicas", "/run/homelab/heartbeat-token")}`,
  );
  // Gatus only accepts keys it declares: every key a job posts must be in the generated config.
  expect(gatusHeartbeatKeys(fleet[s])).toContain(key);
  return r;
}

/** Snapshots of a writer sidecar's repository, read with its generated password. */
async function snapshotsOn(s: ServerName, c: string, service: string) {
  const r = await exec(
    s,
    c,
    `restic -r /backups/${s}/${service} -p /run/homelab/restic-password snapshots --json`,
  );
  if (r.code !== 0) throw new Error(`restic snapshots in ${s}/${c}: ${r.stderr}`);
  return JSON.parse(r.stdout) as {
    id: string;
    tags?: string[];
    hostname: string;
    paths: string[];
  }[];
}

beforeAll(async () => {
  await timed("evaluate home and offsite for the lab", async () => {
    fleet = await labFleet();
  });
  await recorder.start();
  await timed("apply home and offsite over SSH", async () => {
    plans.home = await applyServer(fleet.home, "home", HOME_CONTAINERS);
    plans.offsite = await applyServer(fleet.offsite, "offsite", OFFSITE_CONTAINERS);
  });
  await timed("stand-ins (Gatus/ntfy forwarder, demo service and database)", async () => {
    for (const s of ["home", "offsite"] as const) await startForwarder(s, "homelab-proxy");
    dump = Buffer.from(
      `-- demo dump\nCREATE TABLE assets (id int);\n${Array.from({ length: 2000 }, (_, i) => `INSERT INTO assets VALUES (${i});`).join("\n")}\n`,
    );
    await startDemoDatabase("home", "immich-db", "homelab-immich", dump);
    await installPgDump("home", "immich-db-backup");
  });
}, 300_000);

afterAll(async () => {
  await recorder.stop();
  console.log("[e2e] timings:");
  for (const t of timings)
    console.log(`[e2e]   ${(t.ms / 1000).toFixed(1).padStart(6)} s  ${t.what}`);
});

describe("the lab runs what the program declares", () => {
  it("applies the generated containers with their inputs (not a hand-made copy)", async () => {
    const r = await docker("home", [
      "inspect",
      "-f",
      "{{.Config.Image}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.LogConfig.Type}}",
      "vaultwarden-backup",
    ]);
    expect(r.stdout.trim()).toBe(
      'restic/restic:0.18.0 ["/bin/sh","/usr/local/bin/homelab-backup"] ["daemon"] unless-stopped json-file',
    );
    const mounts = await docker("offsite", [
      "inspect",
      "-f",
      "{{json .Mounts}}",
      "backup-replicas",
    ]);
    const m = JSON.parse(mounts.stdout) as { Name: string; Destination: string; RW: boolean }[];
    expect(m).toEqual([
      expect.objectContaining({ Name: "homelab-backups", Destination: "/backups", RW: false }),
    ]);
    const env = envs(container(fleet.home, "syncthing")).values;
    const live = await docker("home", ["inspect", "-f", "{{json .Config.Env}}", "syncthing"]);
    for (const [k, v] of Object.entries(env))
      expect(JSON.parse(live.stdout)).toContain(`${k}=${v}`);
    // The images were pulled by their production names from the lab's mirror.
    const img = await docker("offsite", [
      "image",
      "inspect",
      "-f",
      "{{json .RepoTags}}",
      "syncthing/syncthing:1.29.5",
    ]);
    expect(JSON.parse(img.stdout)).toContain("syncthing/syncthing:1.29.5");
  });

  it("Syncthing peers connect with the seed-derived Ed25519 identities and the generated config", async () => {
    const offsiteId = (await st("offsite", "/rest/system/status").then(JSON.parse)).myID as string;
    const homeId = (await st("home", "/rest/system/status").then(JSON.parse)).myID as string;
    // The IDs the program computed (and gave the peers) are the ones Syncthing derives itself.
    expect(generated(fleet.home, "syncthing", "/etc/syncthing/config.xml")).toContain(
      `<device id="${offsiteId}"`,
    );
    expect(generated(fleet.offsite, "syncthing", "/etc/syncthing/config.xml")).toContain(
      `<device id="${homeId}"`,
    );
    const conn = await timed("Syncthing home↔offsite connected", () =>
      waitFor(
        "home connected to offsite",
        async () => {
          const c = JSON.parse(await st("home", "/rest/system/connections")) as {
            connections: Record<string, { connected: boolean; address: string; crypto: string }>;
          };
          return c.connections[offsiteId]?.connected && c.connections[offsiteId];
        },
        60_000,
      ),
    );
    expect(conn.crypto).toMatch(/^TLS1\.3/);
    const folders = JSON.parse(await st("offsite", "/rest/config/folders")) as {
      id: string;
      type: string;
    }[];
    expect(folders.find((f) => f.id === FOLDER)?.type).toBe("receiveonly");
    const homeFolders = JSON.parse(await st("home", "/rest/config/folders")) as {
      id: string;
      type: string;
    }[];
    expect(homeFolders.find((f) => f.id === FOLDER)?.type).toBe("sendonly");
  });
});

describe("1. backup → replicate → restore drill", () => {
  it("backs up files and a dump on home, replicates to offsite, and offsite restores them byte-identical", async () => {
    const t0 = Date.now();
    files = demoFiles("v1");
    await writeServiceFiles("home", "vaultwarden", "vaultwarden-data", "/data", files);
    const written = Date.now();

    for (const c of ["vaultwarden-backup", "immich-db-backup"]) {
      const r = await timed(`home ${c}: backup (init, backup, forget/prune)`, () =>
        job("home", c, "backup"),
      );
      expect(r.code, `${c} backup: ${r.stdout}${r.stderr}`).toBe(0);
    }
    expectHeartbeat(t0, "home", hbOf("home", "vaultwarden-backup").backup, true);
    expectHeartbeat(t0, "home", hbOf("home", "immich-db-backup").backup, true);
    expect(alerts(t0)).toEqual([]);

    // What restic holds on home: a files snapshot of the volume, a dump snapshot from stdin.
    const vw = await snapshotsOn("home", "vaultwarden-backup", "vaultwarden");
    expect(vw.map((s) => [s.hostname, s.tags, s.paths])).toEqual([
      ["home", ["vaultwarden", "files"], ["/data/data"]],
    ]);
    const db = await snapshotsOn("home", "immich-db-backup", "immich-db");
    expect(db.map((s) => [s.hostname, s.tags, s.paths])).toEqual([
      ["home", ["immich-db", "dump"], ["/immich.sql"]],
    ]);

    for (const c of ["vaultwarden-backup", "immich-db-backup"]) {
      const r = await timed(`home ${c}: check`, () => job("home", c, "check"));
      expect(r.code, `${c} check: ${r.stdout}${r.stderr}`).toBe(0);
      const d = await timed(`home ${c}: drill`, () => job("home", c, "drill"));
      expect(d.code, `${c} drill: ${d.stdout}${d.stderr}`).toBe(0);
    }
    expectHeartbeat(t0, "home", hbOf("home", "vaultwarden-backup").check, true);
    expectHeartbeat(t0, "home", hbOf("home", "immich-db-backup").drill, true);

    await timed("Syncthing replicates home's repositories to offsite", () =>
      replicated("first backup"),
    );

    const script = generated(fleet.offsite, "backup-replicas", "/usr/local/bin/homelab-backup");
    const nVw = replicaIndex(script, "home", "vaultwarden");
    const nDb = replicaIndex(script, "home", "immich-db");
    const tDrill = Date.now();
    for (const n of [nVw, nDb]) {
      const r = await timed(`offsite drill ${n}`, () =>
        job("offsite", "backup-replicas", `drill ${n}`),
      );
      expect(r.code, `offsite drill ${n}: ${r.stdout}${r.stderr}`).toBe(0);
      const c = await timed(`offsite check ${n}`, () =>
        job("offsite", "backup-replicas", `check ${n}`),
      );
      expect(c.code, `offsite check ${n}: ${c.stdout}${c.stderr}`).toBe(0);
    }
    expectHeartbeat(tDrill, "offsite", hbOf("offsite", "backup-replicas", nVw).drill, true);
    expectHeartbeat(tDrill, "offsite", hbOf("offsite", "backup-replicas", nDb).drill, true);
    expectHeartbeat(tDrill, "offsite", hbOf("offsite", "backup-replicas", nVw).check, true);

    // Byte-identical: restore on offsite with the password the program generated for home.
    const pwVw = secretOf("home", "vaultwarden-backup", "/run/homelab/restic-password");
    expect(secretOf("offsite", "backup-replicas", `/run/homelab/repo-${nVw}-password`)).toBe(pwVw);
    const restore = await exec(
      "offsite",
      "backup-replicas",
      `rm -rf /tmp/verify && restic --no-lock -r ${REPLICA_DIR}/vaultwarden -p /run/homelab/repo-${nVw}-password restore latest --target /tmp/verify >/dev/null`,
    );
    expect(restore.code, restore.stderr).toBe(0);
    expect(await hashesIn("offsite", "backup-replicas", "/tmp/verify/data/data")).toEqual(
      hashesOf(files),
    );
    const dumped = await exec(
      "offsite",
      "backup-replicas",
      `restic --no-lock -r ${REPLICA_DIR}/immich-db -p /run/homelab/repo-${nDb}-password dump latest /immich.sql | sha256sum`,
    );
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(dumped.stdout.split(" ")[0]).toBe(sha256(dump));
    await exec("offsite", "backup-replicas", "rm -rf /tmp/verify");
    const ms = Date.now() - written;
    timings.push({ what: "scenario 1: write on home → verified restore on offsite", ms });
    console.log(`[e2e] write on home → verified restore on offsite: ${(ms / 1000).toFixed(1)} s`);
    // The replica stays read-only for the drills: no lock or cache was written into it.
    expect(await folderHashes("offsite")).toEqual(await folderHashes("home"));
  });
});
