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
  plainFiles,
  job,
  replicaIndex,
  scriptHeartbeats,
  sha256,
  startDemoDatabase,
  startForwarder,
  writeServiceFiles,
} from "./fixtures";
import { ContainerPlan, applyServer, planContainer, recreate } from "./harness";
import {
  Recorded,
  Recorder,
  ServerName,
  docker,
  dockerOk,
  exec,
  execOk,
  host,
  lab,
  labFleet,
  timed,
  timings,
  waitFor,
} from "./lab";

// The layout job first: it makes the directories the others mount alone.
const HOME_CONTAINERS = [
  "backup-layout",
  "syncthing",
  "vaultwarden-backup",
  "immich-db-backup",
  "backup-replicas",
];
const OFFSITE_CONTAINERS = ["backup-layout", "syncthing", "backup-replicas"];
const FOLDER = "backups-home";
const REPLICA_DIR = "/backups/home";

const recorder = new Recorder();
let fleet: Record<ServerName, Evaluation>;
const plans: Partial<Record<ServerName, ContainerPlan[]>> = {};
let files: FileSet;
let dump: Buffer;
/** Repository numbers of home's vaultwarden and immich-db in offsite's replica script. */
let nVw: number;
let nDb: number;

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

/** Asserts exactly one ntfy alert since `t`: to the generated topic URL, with the token. */
function expectAlert(t: number, s: ServerName, c: string, title: RegExp): Recorded {
  const a = alerts(t);
  expect(
    a.map((r) => r.headers.title),
    "ntfy alerts",
  ).toHaveLength(1);
  const r = a[0]!;
  const script = generated(fleet[s], c, "/usr/local/bin/homelab-backup");
  const url = new URL(/\nNTFY_URL='([^']+)'/.exec(script)![1]!);
  expect(url.protocol).toBe("https:");
  expect(r.headers.host).toBe(url.host);
  expect(r.url).toBe(url.pathname);
  expect(r.method).toBe("POST");
  expect(r.from).toBe(s);
  expect(r.headers.authorization).toBe(`Bearer ${secretOf(s, c, "/run/homelab/ntfy-token")}`);
  expect(r.headers.priority).toBe("high");
  expect(r.headers.title).toMatch(title);
  expect(r.body.length).toBeGreaterThan(0);
  return r;
}

/** Asserts a failed job: non-zero exit, one error heartbeat with the reason, one alert. */
function expectLoudFailure(
  t: number,
  s: ServerName,
  c: string,
  key: string,
  r: { code: number; stdout: string; stderr: string },
  reason: RegExp,
  title: RegExp,
) {
  expect(r.code, `${c}: ${r.stdout}${r.stderr}`).not.toBe(0);
  const hb = expectHeartbeat(t, s, key, false);
  expect(query(hb).get("error")).toMatch(reason);
  const alert = expectAlert(t, s, c, title);
  expect(alert.body).toMatch(reason);
}

/** The container that sends heartbeat `key`: `<service>-backup`, or backup-replicas. */
const senderOf = (key: string) =>
  /-replicas_/.test(key)
    ? "backup-replicas"
    : `${key.replace(/^[^_]+_(backup|check|drill)-/, "")}-backup`;

/**
 * Asserts one heartbeat for `key` since `t` with the outcome, authenticated with the token of
 * the container that sends it (each has its own).
 */
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
    `Bearer ${secretOf(s, senderOf(key), "/run/homelab/heartbeat-token")}`,
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
  const script = generated(fleet.offsite, "backup-replicas", "/usr/local/bin/homelab-backup");
  nVw = replicaIndex(script, "home", "vaultwarden");
  nDb = replicaIndex(script, "home", "immich-db");
  await recorder.start();
  await timed("apply home and offsite over SSH", async () => {
    plans.home = await applyServer(fleet.home, "home", HOME_CONTAINERS);
    plans.offsite = await applyServer(fleet.offsite, "offsite", OFFSITE_CONTAINERS);
  });
  await timed("stand-ins (Gatus/ntfy forwarder, demo service and database)", async () => {
    for (const s of ["home", "offsite"] as const) await startForwarder(s, "homelab-proxy");
    dump = Buffer.from(
      // Ends as pg_dump ends a complete dump: the drill checks the trailer (configs/backup.ts).
      `-- demo dump\nCREATE TABLE assets (id int);\n${Array.from({ length: 2000 }, (_, i) => `INSERT INTO assets VALUES (${i});`).join("\n")}\n\n--\n-- PostgreSQL database dump complete\n--\n\n`,
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
    // The container runs the ID of the image its RemoteImage names (components/docker.ts).
    const restic = await docker("home", [
      "image",
      "inspect",
      "-f",
      "{{.Id}}",
      "restic/restic:0.18.0",
    ]);
    expect(r.stdout.trim()).toBe(
      `${restic.stdout.trim()} ["/bin/sh","/usr/local/bin/homelab-backup"] ["daemon"] unless-stopped json-file`,
    );
    const mounts = await docker("offsite", [
      "inspect",
      "-f",
      "{{json .Mounts}}",
      "backup-replicas",
    ]);
    const m = JSON.parse(mounts.stdout) as { Name: string; Destination: string; RW: boolean }[];
    expect(m).toEqual([
      expect.objectContaining({ Name: "homelab-backups", Destination: "/backups/home", RW: false }),
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

  it("the harness refuses inputs it does not translate", () => {
    const base = container(fleet.home, "vaultwarden-backup");
    const bad = { ...base, inputs: { ...base.inputs, privileged: true } };
    expect(() => planContainer(bad)).toThrow(
      'harness: container home-vaultwarden-backup-container input "privileged" is not translated',
    );
    const badVolume = {
      ...base,
      inputs: { ...base.inputs, volumes: [{ containerPath: "/x", volumeName: "v", shared: true }] },
    };
    expect(() => planContainer(badVolume)).toThrow(/volumes\[\] input "shared" is not translated/);
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
      // The volume without the live database, and its consistent copy (capture: sqlite).
      ["home", ["vaultwarden", "files"], ["/data/data", "/sqlite"]],
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

    // offsite (trust: storage) verifies both replicas without any key.
    const tVerify = Date.now();
    for (const n of [nVw, nDb]) {
      const r = await timed(`offsite verify ${n}`, () => replicaJob(`verify ${n}`));
      expect(r.code, `offsite verify ${n}: ${r.stdout}${r.stderr}`).toBe(0);
      expectHeartbeat(tVerify, "offsite", hbOf("offsite", "backup-replicas", n).verify, true);
    }

    // Byte-identical: the replica restores with home's password, which the operator brings
    // from Pulumi state (docs/restore.md); offsite itself never has it.
    const restore = await restoreFromOffsite(
      "vaultwarden",
      `restic --no-lock -r ${REPLICA_DIR}/vaultwarden restore latest --target /out >&2 && cd /out/data/data && find . -type f | sort | while read -r f; do sha256sum "$f"; done`,
    );
    expect(restore.code, restore.stderr).toBe(0);
    expect(parseHashes(restore.stdout)).toEqual(hashesOf(plainFiles(files)));
    const dumped = await restoreFromOffsite(
      "immich-db",
      `restic --no-lock -r ${REPLICA_DIR}/immich-db dump latest /immich.sql | sha256sum`,
    );
    expect(dumped.code, dumped.stderr).toBe(0);
    expect(dumped.stdout.split(" ")[0]).toBe(sha256(dump));
    const ms = Date.now() - written;
    timings.push({ what: "scenario 1: write on home → verified restore from offsite", ms });
    console.log(`[e2e] write on home → verified restore from offsite: ${(ms / 1000).toFixed(1)} s`);
    // The replica stays read-only for the verifier: nothing was written into it.
    expect(await folderHashes("offsite")).toEqual(await folderHashes("home"));
  });
});

/** Parses `sha256sum` lines into { path: hash } (paths without a leading ./). */
function parseHashes(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  for (const line of out.split("\n").filter(Boolean)) {
    const [h, f] = line.split(/\s+/, 2) as [string, string];
    m[f.replace(/^\.\//, "")] = h;
  }
  return m;
}

/**
 * What an operator does to restore from offsite's replica: a throwaway restic container with
 * the writer's password from Pulumi state, the replica mounted read-only. offsite's own
 * containers never hold it.
 */
function restoreFromOffsite(service: string, script: string) {
  const pw = secretOf("home", `${service}-backup`, "/run/homelab/restic-password");
  return docker("offsite", [
    "run",
    "--rm",
    "-e",
    `RESTIC_PASSWORD=${pw}`,
    "-v",
    "homelab-backups:/backups:ro",
    "--entrypoint",
    "sh",
    "restic/restic:0.18.0",
    "-c",
    `set -e; export RESTIC_CACHE_DIR=/tmp/cache; ${script}`,
  ]);
}

/** Runs a writer job, timed. */
const writerJob = (c: string, args: string) =>
  timed(`home ${c}: ${args}`, () => job("home", c, args));
const replicaJob = (args: string) =>
  timed(`offsite ${args}`, () => job("offsite", "backup-replicas", args));

describe("1b. the scheduled jobs", () => {
  it("the sidecars run busybox crond on the generated crontab, whose lines log to the container", async () => {
    for (const [s, c] of [
      ["home", "vaultwarden-backup"],
      ["offsite", "backup-replicas"],
    ] as const) {
      expect((await execOk(s, c, "cat /proc/1/comm")).trim()).toBe("crond");
      const crontab = generated(fleet[s], c, "/etc/crontabs/root");
      expect(await execOk(s, c, "cat /etc/crontabs/root")).toBe(crontab);
      // The `check` line (offsite: `verify`, it has no keys) exactly as crond runs it (minus the
      // schedule): its output reaches the log.
      const name = s === "home" ? "check" : "verify";
      const line = crontab.split("\n").find((l) => l.includes(` ${name} `) && !l.startsWith("#"))!;
      const command = line.split(/\s+/).slice(5).join(" ");
      const since = Math.floor(Date.now() / 1000) - 1;
      const r = await exec(s, c, command);
      const logs = await docker(s, ["logs", "--since", String(since), c]);
      const text = logs.stdout + logs.stderr;
      expect(text).toMatch(new RegExp(`\\[vaultwarden\\] ${name} ok`));
      if (s === "home") expect(r.code, text).toBe(0);
      else {
        // offsite verifies every replica it is declared to keep; the lab applies only two of
        // home's four sidecars: the other two directories (made by home's layout job and
        // replicated) never got a manifest, which is reported, loudly.
        expect(text).toMatch(/\[immich-db\] verify ok/);
        expect(text).toMatch(
          /\[home-assistant\] verify FAILED: replica \/backups\/home\/home-assistant has no manifest/,
        );
        expect(r.code).not.toBe(0);
      }
    }
  });
});

describe("1c. each container sees only its part of the backup volume (volume subpaths)", () => {
  it("the layout job ran once and stopped; a sidecar sees its own repository only; replicas are read-only to all but Syncthing", async () => {
    const state = await docker("home", [
      "inspect",
      "-f",
      "{{.State.Status}} {{.State.ExitCode}}",
      "backup-layout",
    ]);
    expect(state.stdout.trim()).toBe("exited 0");
    // vaultwarden's sidecar: its repository, nothing of immich-db's, nothing of the replicas.
    expect((await execOk("home", "vaultwarden-backup", "ls -A /backups")).trim()).toBe("home");
    expect((await execOk("home", "vaultwarden-backup", "ls -A /backups/home")).trim()).toBe(
      "vaultwarden",
    );
    expect(
      (await execOk("home", "immich-db-backup", "ls -A /backups/home/immich-db")).trim(),
    ).not.toBe("");
    const other = await exec("home", "vaultwarden-backup", "ls /backups/home/immich-db");
    expect(other.code).not.toBe(0);
    const replica = await exec("home", "vaultwarden-backup", "ls /backups/offsite");
    expect(replica.code).not.toBe(0);
    // Syncthing sends home's repositories from a read-only mount and writes offsite's folder.
    const ro = await exec("home", "syncthing", "touch /backups/home/vaultwarden/probe");
    expect(ro.code).not.toBe(0);
    expect(ro.stderr + ro.stdout).toMatch(/Read-only file system/);
    await execOk(
      "home",
      "syncthing",
      "touch /backups/offsite/.probe && rm /backups/offsite/.probe",
    );
    // offsite's verifier reads home's replica read-only.
    const rr = await exec("offsite", "backup-replicas", "touch /backups/home/probe");
    expect(rr.stderr + rr.stdout).toMatch(/Read-only file system/);
  });
});

describe("2. failure is loud", () => {
  it("a wrong repository password: error heartbeat, ntfy alert, non-zero exit, repository untouched", async () => {
    const repo = await hashesIn("home", "vaultwarden-backup", "/backups/home/vaultwarden");
    const pw = "/run/homelab/restic-password";
    await execOk(
      "home",
      "vaultwarden-backup",
      `cp ${pw} /tmp/pw.keep && echo not-the-generated-password > ${pw}`,
    );
    const t = Date.now();
    try {
      const r = await writerJob("vaultwarden-backup", "backup");
      expectLoudFailure(
        t,
        "home",
        "vaultwarden-backup",
        hbOf("home", "vaultwarden-backup").backup,
        r,
        /wrong password/,
        /backup failed: vaultwarden/,
      );
    } finally {
      await execOk("home", "vaultwarden-backup", `cat /tmp/pw.keep > ${pw} && rm /tmp/pw.keep`);
    }
    // Never a fresh `init` over a repository it cannot open: the repository is as it was.
    expect(await hashesIn("home", "vaultwarden-backup", "/backups/home/vaultwarden")).toEqual(repo);
    expect(await hashesIn("home", "vaultwarden-backup", "/data/data")).toEqual(hashesOf(files));
  });

  it("a full repository (1 MiB tmpfs) and a missing backup volume: loud, and the real repository untouched", async () => {
    const base = plans.home!.find((p) => p.name === "vaultwarden-backup")!;
    const repo = await hashesIn("home", "vaultwarden-backup", "/backups/home/vaultwarden");
    // The repository is the sidecar's one subpath mount of homelab-backups.
    const withoutVolume = (p: ContainerPlan) => {
      const c = structuredClone(p);
      c.create.HostConfig!.Mounts = (c.create.HostConfig!.Mounts ?? []).filter(
        (m) => !m.Target.startsWith("/backups"),
      );
      return c;
    };
    const full = withoutVolume(base);
    full.create.HostConfig!.Mounts = [
      {
        Type: "tmpfs",
        Target: "/backups",
        Source: "",
        TmpfsOptions: { SizeBytes: 1 << 20 },
      } as never,
    ];
    try {
      await recreate("home", full);
      let t = Date.now();
      let r = await writerJob("vaultwarden-backup", "backup");
      expectLoudFailure(
        t,
        "home",
        "vaultwarden-backup",
        hbOf("home", "vaultwarden-backup").backup,
        r,
        /no space left on device/,
        /backup failed: vaultwarden/,
      );

      await recreate("home", withoutVolume(base));
      t = Date.now();
      r = await writerJob("vaultwarden-backup", "backup");
      // Without its volume the sidecar must not create a repository somewhere else.
      expectLoudFailure(
        t,
        "home",
        "vaultwarden-backup",
        hbOf("home", "vaultwarden-backup").backup,
        r,
        /unusable/,
        /backup failed: vaultwarden/,
      );
      const stray = await exec("home", "vaultwarden-backup", "ls -A /backups 2>/dev/null");
      expect(stray.stdout.trim()).toBe("");
    } finally {
      await recreate("home", base);
    }
    expect(await hashesIn("home", "vaultwarden-backup", "/backups/home/vaultwarden")).toEqual(repo);
  });

  it("a repository missing on the replica: the keyless verify on offsite fails loudly", async () => {
    const script = generated(fleet.offsite, "backup-replicas", "/usr/local/bin/homelab-backup");
    const n = replicaIndex(script, "home", "home-assistant");
    const t = Date.now();
    const r = await replicaJob(`verify ${n}`);
    expectLoudFailure(
      t,
      "offsite",
      "backup-replicas",
      hbOf("offsite", "backup-replicas", n).verify,
      r,
      /replica \/backups\/home\/home-assistant has no manifest/,
      /verify failed: home-assistant from home on offsite/,
    );
  });

  it("a failing dump command: no snapshot, error heartbeat, alert; the next run succeeds again", async () => {
    const before = await snapshotsOn("home", "immich-db-backup", "immich-db");
    await dockerOk("home", ["stop", "-t", "1", "immich-db"]);
    const t = Date.now();
    try {
      const r = await writerJob("immich-db-backup", "backup");
      expectLoudFailure(
        t,
        "home",
        "immich-db-backup",
        hbOf("home", "immich-db-backup").backup,
        r,
        /dump failed/,
        /backup failed: immich-db/,
      );
      // restic keeps no snapshot of a dump whose command failed.
      expect(await snapshotsOn("home", "immich-db-backup", "immich-db")).toEqual(before);
    } finally {
      await dockerOk("home", ["start", "immich-db"]);
    }
    const t2 = Date.now();
    const ok = await writerJob("immich-db-backup", "backup");
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expectHeartbeat(t2, "home", hbOf("home", "immich-db-backup").backup, true);
    expect(alerts(t2)).toEqual([]);
  });
});

/** Status of the replicated folder on offsite (local changes of its receive-only folder). */
const offsiteStatus = async () =>
  JSON.parse(await st("offsite", `/rest/db/status?folder=${FOLDER}`)) as {
    receiveOnlyTotalItems: number;
  };

/** Reverts offsite's local changes (Syncthing pulls the originals back) and waits for equality. */
async function revertOffsite(what: string) {
  await st("offsite", `/rest/db/revert?folder=${FOLDER}`, true);
  await timed(`offsite revert → replica equal to home (${what})`, () =>
    replicated(`after revert (${what})`),
  );
}

describe("3. replicas are safe", () => {
  it("offsite holds no key, and verifies its replica without one: a flipped byte and a deleted pack are each detected, a clean replica passes", async () => {
    // No password reaches offsite's verifier: not as a file, not in its environment.
    const secrets = await execOk("offsite", "backup-replicas", "ls /run/homelab");
    expect(secrets.split("\n").filter(Boolean).sort()).toEqual(["heartbeat-token", "ntfy-token"]);
    expect(await execOk("offsite", "backup-replicas", "env")).not.toMatch(/RESTIC_PASSWORD=/);
    await replicated("before the keyless checks");
    const home = await folderHashes("home");
    const pack = Object.keys(home)
      .filter((f) => f.startsWith("immich-db/data/"))
      .sort()[0]!;
    const key = hbOf("offsite", "backup-replicas", nDb).verify;

    const t0 = Date.now();
    const clean = await replicaJob(`verify ${nDb}`);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    expectHeartbeat(t0, "offsite", key, true);
    expect(alerts(t0)).toEqual([]);

    const cases: [string, string, RegExp][] = [
      [
        "a flipped byte",
        // one byte at offset 100 replaced by a different value, as a failing disk would
        `f=${pack}; b=$(dd if=$f bs=1 skip=100 count=1 2>/dev/null | od -An -tu1 | tr -d ' '); ` +
          `printf "$(printf '\\%03o' $(( (b + 1) % 256 )))" | dd of=$f bs=1 seek=100 conv=notrunc 2>/dev/null`,
        new RegExp(`changed ${pack.replace("immich-db/", "")}`),
      ],
      ["a deleted pack", `rm ${pack}`, new RegExp(`missing ${pack.replace("immich-db/", "")}`)],
    ];
    for (const [what, damage, reason] of cases) {
      await execOk("offsite", "syncthing", `cd ${REPLICA_DIR} && ${damage}`);
      expect(await folderHashes("offsite"), what).not.toEqual(home);
      const t = Date.now();
      const r = await replicaJob(`verify ${nDb}`);
      expectLoudFailure(
        t,
        "offsite",
        "backup-replicas",
        key,
        r,
        reason,
        /verify failed: immich-db from home on offsite/,
      );
      await st("offsite", `/rest/db/scan?folder=${FOLDER}`, true);
      await waitFor(
        `offsite to notice ${what}`,
        async () => (await offsiteStatus()).receiveOnlyTotalItems > 0,
        30_000,
      );
      await revertOffsite(what);
      const t2 = Date.now();
      const ok = await replicaJob(`verify ${nDb}`);
      expect(ok.code, `${what}, reverted: ${ok.stdout}${ok.stderr}`).toBe(0);
      expectHeartbeat(t2, "offsite", key, true);
      expect(alerts(t2)).toEqual([]);
    }
  });

  it("damage in offsite's replica never reaches home; the keyless verify reports it; a revert heals it", async () => {
    await replicated("before damage");
    const home = await folderHashes("home");
    // immich-db's replica is damaged here; vaultwarden's is deleted on home in the next test.
    const pack = Object.keys(home).find((f) => f.startsWith("immich-db/data/"))!;
    // Damage the receive-only replica the way a disk or a person would.
    await execOk(
      "offsite",
      "syncthing",
      `cd ${REPLICA_DIR} && printf CORRUPTED | dd of=${pack} bs=1 seek=64 conv=notrunc 2>/dev/null && rm immich-db/config && rm -r immich-db/snapshots`,
    );
    await st("offsite", `/rest/db/scan?folder=${FOLDER}`, true);
    // Wait until offsite has noticed (or, were the folders two-way, home has changed), give a
    // two-way folder every chance to send the damage back, then look at home first.
    const status = offsiteStatus;
    await waitFor(
      "offsite to notice the local changes",
      async () =>
        (await status()).receiveOnlyTotalItems > 0 ||
        JSON.stringify(await folderHashes("home")) !== JSON.stringify(home),
      30_000,
    );
    await st("home", `/rest/db/scan?folder=${FOLDER}`, true);
    await new Promise((r) => setTimeout(r, 8000));
    expect(await folderHashes("home"), "home's repositories after damage on offsite").toEqual(home);
    // offsite keeps them as local changes of its receive-only folder, never sent.
    expect((await status()).receiveOnlyTotalItems).toBeGreaterThanOrEqual(3);
    const homeCheck = await writerJob("vaultwarden-backup", "check");
    expect(homeCheck.code, homeCheck.stdout + homeCheck.stderr).toBe(0);

    // The damaged replica is noticed without the key, loudly.
    const t = Date.now();
    const r = await replicaJob(`verify ${nDb}`);
    expectLoudFailure(
      t,
      "offsite",
      "backup-replicas",
      hbOf("offsite", "backup-replicas", nDb).verify,
      r,
      /missing config/,
      /verify failed: immich-db from home on offsite/,
    );

    // Reverting the local changes pulls the originals back; verify passes again.
    await revertOffsite("three damages");
    const t2 = Date.now();
    for (const n of [nVw, nDb]) {
      const c = await replicaJob(`verify ${n}`);
      expect(c.code, c.stdout + c.stderr).toBe(0);
    }
    expectHeartbeat(t2, "offsite", hbOf("offsite", "backup-replicas", nVw).verify, true);
    expect(alerts(t2)).toEqual([]);
  });

  it("deleting the repository on home: offsite keeps every file as a version, and that copy restores", async () => {
    const home = await folderHashes("home");
    const repo = Object.fromEntries(
      Object.entries(home)
        .filter(([f]) => f.startsWith("vaultwarden/"))
        .map(([f, h]) => [f.slice("vaultwarden/".length), h]),
    );
    expect(Object.keys(repo)).toContain("config");
    // The sidecar's repository is its mount point: everything in it is deleted, not the mount.
    await execOk(
      "home",
      "vaultwarden-backup",
      "find /backups/home/vaultwarden -mindepth 1 -maxdepth 1 -exec rm -rf {} \\;",
    );
    await st("home", `/rest/db/scan?folder=${FOLDER}`, true);
    await waitFor(
      "offsite's replica to follow the deletion",
      async () =>
        !Object.keys(await folderHashes("offsite")).some((f) => f.startsWith("vaultwarden/")),
      60_000,
    );
    // Staggered versioning moved each deleted file to .stversions, tagged before the extension:
    // name~YYYYMMDD-HHMMSS.ext (syncthing v1.29.5 lib/versioner/util.go:36-41, TagFilename);
    // restic's files have none, the manifest has `.sha256`.
    const versions = await execOk(
      "offsite",
      "syncthing",
      `cd ${REPLICA_DIR}/.stversions/vaultwarden && find . -type f | sort | while read -r f; do sha256sum "$f"; done`,
    );
    // The newest version of each file is the repository as it was deleted (locks are not data).
    const kept: Record<string, string> = {};
    for (const line of versions.split("\n").filter(Boolean)) {
      const [h, f] = line.split(/\s+/, 2) as [string, string];
      const name = f.replace(/^\.\//, "").replace(/~\d{8}-\d{6}(\.[^./]+)?$/, "$1");
      if (!name.startsWith("locks/")) kept[name] = h;
    }
    expect(kept).toEqual(repo);
    // The kept copy is a working repository: rebuilt on offsite, checked, restored, verified.
    // The operator brings home's password (Pulumi state); offsite has none.
    const rescue = await restoreFromOffsite(
      "vaultwarden",
      `cd ${REPLICA_DIR}/.stversions/vaultwarden
       find . -type f ! -path './locks/*' | sort | while read -r f; do mkdir -p "/r/$(dirname "$f")"; cp "$f" "/r/$(dirname "$f")/$(basename "$f" | sed 's/~[0-9]\\{8\\}-[0-9]\\{6\\}\\(\\.[^./]*\\)\\{0,1\\}$/\\1/')"; done
       restic -r /r check >&2 && restic -r /r restore latest --target /out >&2
       cd /out/data/data && find . -type f | sort | while read -r f; do sha256sum "$f"; done`,
    );
    expect(rescue.code, rescue.stderr).toBe(0);
    const restored = parseHashes(rescue.stdout);
    expect(restored).toEqual(hashesOf(plainFiles(files)));

    // Until the next backup, a check or drill on home fails loudly: it never passes on a
    // freshly initialised empty repository.
    for (const j of ["check", "drill"] as const) {
      const tj = Date.now();
      const r = await writerJob("vaultwarden-backup", j);
      expectLoudFailure(
        tj,
        "home",
        "vaultwarden-backup",
        hbOf("home", "vaultwarden-backup")[j],
        r,
        /unusable/,
        new RegExp(`${j} failed: vaultwarden`),
      );
    }
    const gone = await execOk("home", "vaultwarden-backup", "ls -A /backups/home/vaultwarden");
    expect(gone.trim()).toBe("");
    // home starts over: the next backup creates a new repository, which replicates and drills.
    const b = await writerJob("vaultwarden-backup", "backup");
    expect(b.code, b.stdout + b.stderr).toBe(0);
    await replicated("new repository");
    const d = await replicaJob(`verify ${nVw}`);
    expect(d.code, d.stdout + d.stderr).toBe(0);
  });
});

describe("4. a server goes away", () => {
  it("with offsite cut off home keeps backing up; on return the replica catches up and the drill passes", async () => {
    const l = lab();
    await host("ip", ["link", "set", l.links.offsite, "down"]);
    let cut = true;
    try {
      // offsite is unreachable, even for the suite's SSH.
      const probe = await docker("offsite", ["version"], { timeoutMs: 15_000 });
      expect(probe.code).not.toBe(0);
      files = demoFiles("v2");
      await writeServiceFiles("home", "vaultwarden", "vaultwarden-data", "/data", files);
      const t = Date.now();
      for (const c of ["vaultwarden-backup", "immich-db-backup"]) {
        const r = await writerJob(c, "backup");
        expect(r.code, `${c} with offsite away: ${r.stdout}${r.stderr}`).toBe(0);
      }
      expectHeartbeat(t, "home", hbOf("home", "vaultwarden-backup").backup, true);
      expectHeartbeat(t, "home", hbOf("home", "immich-db-backup").backup, true);
      expect(alerts(t)).toEqual([]);
      await st("home", `/rest/db/scan?folder=${FOLDER}`, true);
      // home knows offsite lacks the new data (it cannot send it while offsite is away).
      const devices = JSON.parse(await st("home", "/rest/config/devices")) as {
        deviceID: string;
        name: string;
      }[];
      const offsiteId = devices.find((d) => d.name === "offsite")!.deviceID;
      const pending = await waitFor(
        "home to see offsite's replica behind",
        async () => {
          const c = JSON.parse(
            await st("home", `/rest/db/completion?folder=${FOLDER}&device=${offsiteId}`),
          ) as { completion: number; needItems: number };
          return c.needItems > 0 && c;
        },
        30_000,
      );
      expect(pending.completion).toBeLessThan(100);
      await host("ip", ["link", "set", l.links.offsite, "up"]);
      cut = false;
    } finally {
      if (cut) await host("ip", ["link", "set", l.links.offsite, "up"]);
    }
    const back = Date.now();
    await timed("offsite back → replica caught up", () => replicated("after the outage", 180_000));
    timings.push({ what: "scenario 4: link up → replica caught up", ms: Date.now() - back });
    const t = Date.now();
    const d = await replicaJob(`verify ${nVw}`);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    expectHeartbeat(t, "offsite", hbOf("offsite", "backup-replicas", nVw).verify, true);
    const r = await restoreFromOffsite(
      "vaultwarden",
      `restic --no-lock -r ${REPLICA_DIR}/vaultwarden restore latest --target /out >&2 && cd /out/data/data && find . -type f | sort | while read -r f; do sha256sum "$f"; done`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(parseHashes(r.stdout)).toEqual(hashesOf(plainFiles(files)));
  }, 420_000);
});
