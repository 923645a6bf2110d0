/**
 * Issue 12: consistent captures under write load, on the lab's real home engine (Docker 26.1),
 * with the real restic 0.18, SQLite 3 and HAProxy, and the scripts and proxy config the program
 * generates for home, plus one lab-only service `notes` declared with `capture: stop` in the
 * stack config (home's real services have no stop capture; cloud's mail has, and cloud is not
 * in the lab). Service containers are stand-ins (their images cannot be pulled here): a SQLite
 * writer on Vaultwarden's volume, an idle container for notes. Starts from a clean engine.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asPeerOutputs, type Evaluation } from "../../cli/evaluate";
import { evaluateReference } from "../helpers";
import { generated, job, scriptHeartbeats, startForwarder } from "./fixtures";
import { applyServer, engine } from "./harness";
import {
  Recorder,
  docker,
  dockerOk,
  exec,
  execOk,
  labFleet,
  labOverrides,
  timed,
  waitFor,
} from "./lab";

const SCRIPT = "/usr/local/bin/homelab-backup";
const recorder = new Recorder();
let home: Evaluation;

/** The lab-only service with `capture: stop`, declared the way a user declares one in YAML. */
const NOTES = {
  image: "restic/restic:0.18.0",
  volumes: [{ name: "data", path: "/data" }],
  backup: { capture: "stop", maxDowntime: 60, verifyFiles: ["data/note.txt"] },
};

/**
 * A lab-only service with `capture: hook`: its "export" writes the time and a marker into its
 * volume, from inside the service's container (an exec through the job's proxy).
 */
const JOURNAL = {
  image: "restic/restic:0.18.0",
  volumes: [{ name: "data", path: "/data" }],
  backup: {
    capture: "hook",
    hook: {
      pre: ["sh", "-c", 'echo "export of $(hostname) at $(date +%s)" > /data/export.txt'],
      post: ["sh", "-c", "echo done >> /data/hook.log"],
      timeout: 60,
    },
    verifyFiles: ["data/export.txt"],
  },
};

/**
 * The writer: one sqlite3 process on Vaultwarden's WAL database, committing transactions
 * that insert a row and set the counter to the row count (so `counter = count(*) = max(n)` in
 * every consistent state), with frequent checkpoints. It runs until /data/stop exists.
 */
const WRITER = `
rm -f /data/stop /data/db.sqlite3 /data/db.sqlite3-wal /data/db.sqlite3-shm
sqlite3 /data/db.sqlite3 "PRAGMA journal_mode=WAL; CREATE TABLE c(id INTEGER PRIMARY KEY, n INTEGER, pad BLOB); CREATE TABLE counter(v INTEGER); INSERT INTO counter VALUES(0);" >/dev/null
i=0
{ echo "PRAGMA wal_autocheckpoint=100;"
  while [ ! -f /data/stop ]; do i=$((i+1)); printf 'BEGIN; INSERT INTO c(n,pad) VALUES(%d, randomblob(4000)); UPDATE counter SET v=%d; COMMIT;\\n' $i $i; done
} | sqlite3 /data/db.sqlite3
`;

/** Integrity and the counter of a database file in a container: "ok|v|count|max" or the error. */
async function examine(container: string, file: string): Promise<string> {
  const r = await exec(
    "home",
    container,
    `sqlite3 '${file}' "PRAGMA integrity_check; SELECT v FROM counter; SELECT count(*) FROM c; SELECT coalesce(max(n),0) FROM c;" 2>&1 | tr '\\n' '|'`,
  );
  return r.stdout.trim();
}

/** The committed counter of the live database, read by the writer's container. */
async function liveCounter(): Promise<number> {
  return Number(
    await execOk("home", "vaultwarden", `sqlite3 /data/db.sqlite3 "SELECT v FROM counter"`),
  );
}

const REPO =
  "export RESTIC_REPOSITORY=/backups/home/vaultwarden RESTIC_PASSWORD_FILE=/run/homelab/restic-password";

const running = async (name: string) =>
  (await docker("home", ["inspect", "-f", "{{.State.Running}}", name])).stdout.trim() === "true";

beforeAll(async () => {
  await timed("captures: evaluate home with the lab service notes", async () => {
    const fleet = await labFleet();
    home = await evaluateReference("home", {
      overrides: { ...labOverrides().home, services: { notes: NOTES, journal: JOURNAL } },
      peers: { offsite: asPeerOutputs(fleet.offsite) },
    });
  });
  const d = engine("home");
  for (const c of await d.listContainers({ all: true }))
    await d.getContainer(c.Id).remove({ force: true, v: true });
  for (const n of await d.listNetworks())
    if (!["bridge", "host", "none"].includes(n.Name)) await d.getNetwork(n.Id).remove();
  for (const v of (await d.listVolumes()).Volumes ?? []) await d.getVolume(v.Name).remove();
  await recorder.start();
  await timed("captures: apply home's layout, sidecars and notes' proxy", async () => {
    // The stand-ins first (their volumes are the services'); then what the program generates.
    for (const [name, volume] of [
      ["vaultwarden", "vaultwarden-data"],
      ["notes", "notes-data"],
      ["journal", "journal-data"],
    ] as const)
      await dockerOk("home", [
        "run",
        "-d",
        "--name",
        name,
        "--hostname",
        name,
        "--label",
        "homelab.e2e=stand-in",
        "-v",
        `${volume}:/data`,
        "--entrypoint",
        "sh",
        "restic/restic:0.18.0",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 1; done",
      ]);
    await execOk("home", "notes", "echo hello > /data/note.txt");
    await applyServer(home, "home", [
      "backup-layout",
      "notes-backup-docker",
      "journal-backup-docker",
      "vaultwarden-backup",
      "notes-backup",
      "journal-backup",
    ]);
    await startForwarder("home", "homelab-proxy");
  });
}, 300_000);

afterAll(async () => {
  await recorder.stop();
});

describe("capture: sqlite under write load", () => {
  it("every snapshot holds a sound copy with a committed counter; a plain copy of the same load breaks", async () => {
    expect(generated(home, "vaultwarden-backup", SCRIPT)).toContain("CAPTURE='sqlite'");
    await dockerOk("home", ["exec", "-d", "vaultwarden", "sh", "-c", WRITER]);
    await waitFor(
      "the writer to commit",
      async () => (await liveCounter().catch(() => 0)) > 200,
      30_000,
      500,
    );
    const seen: string[] = [];
    for (let k = 1; k <= 5; k++) {
      const before = await liveCounter();
      const r = await timed(`captures: sqlite backup ${k}`, () =>
        job("home", "vaultwarden-backup", "backup"),
      );
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const after = await liveCounter();
      await execOk(
        "home",
        "vaultwarden-backup",
        `${REPO}; rm -rf /tmp/r && restic restore latest --tag vaultwarden,files --target /tmp/r >/dev/null`,
      );
      const got = await examine("vaultwarden-backup", "/tmp/r/sqlite/data/db.sqlite3");
      seen.push(got);
      const [ok, v, count, max] = got.split("|");
      expect(ok, got).toBe("ok");
      // One transaction sets the counter to the row count: equal in every committed state,
      // and the value lies between what was committed before and after the backup.
      expect(Number(v)).toBe(Number(count));
      expect(Number(v)).toBe(Number(max));
      expect(Number(v)).toBeGreaterThanOrEqual(before);
      expect(Number(v)).toBeLessThanOrEqual(after);
      // The live file is not in the snapshot: only its copy.
      const live = await exec("home", "vaultwarden-backup", "ls /tmp/r/data/data/db.sqlite3*");
      expect(live.code).not.toBe(0);
    }
    console.log(`[e2e] sqlite captures under load (ok|counter|rows|max): ${seen.join("  ")}`);
    const drill = await job("home", "vaultwarden-backup", "drill");
    expect(drill.code, drill.stdout + drill.stderr).toBe(0);

    // The same load, copied as plain files (what capture: files, or the old backup, did).
    const plain: string[] = [];
    for (let k = 1; k <= 20 && !plain.some((x) => !/^ok\|(\d+)\|\1\|\1\|$/.test(x)); k++) {
      await execOk(
        "home",
        "vaultwarden-backup",
        `${REPO}; restic backup --host home --tag plain /data/data >/dev/null && rm -rf /tmp/p && restic restore latest --tag plain --target /tmp/p >/dev/null`,
      );
      plain.push(await examine("vaultwarden-backup", "/tmp/p/data/data/db.sqlite3"));
    }
    await execOk("home", "vaultwarden", "touch /data/stop");
    const broken = plain.filter((x) => !/^ok\|(\d+)\|\1\|\1\|$/.test(x));
    console.log(
      `[e2e] plain copies under the same load: ${plain.length} taken, ${broken.length} broken or inconsistent: ${broken.map((b) => b.slice(0, 120)).join(" / ")}`,
    );
    expect(broken.length).toBeGreaterThan(0);
  }, 600_000);

  // The writer has stopped: its last close checkpointed the WAL and removed -wal and -shm, and
  // the sidecar's read-only mount cannot make them (https://www.sqlite.org/wal.html#readonly).
  it("copies the database when nothing has it open (a stopped service), from its main file", async () => {
    await waitFor(
      "the writer to close the database",
      async () => (await exec("home", "vaultwarden", "ls /data/db.sqlite3-wal")).code !== 0,
      30_000,
      500,
    );
    const last = await liveCounter();
    const ro = await exec(
      "home",
      "vaultwarden-backup",
      `sqlite3 "file:/data/data/db.sqlite3?mode=ro" "SELECT v FROM counter"`,
    );
    expect(ro.stdout + ro.stderr).toContain("unable to open database file");
    const r = await job("home", "vaultwarden-backup", "backup");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await execOk(
      "home",
      "vaultwarden-backup",
      `${REPO}; rm -rf /tmp/r && restic restore latest --tag vaultwarden,files --target /tmp/r >/dev/null`,
    );
    const got = await examine("vaultwarden-backup", "/tmp/r/sqlite/data/db.sqlite3");
    console.log(`[e2e] sqlite capture of the closed database (ok|counter|rows|max): ${got}`);
    expect(got).toBe(`ok|${last}|${last}|${last}|`);
  }, 120_000);
});

describe("capture: stop", () => {
  const hb = () => scriptHeartbeats(generated(home, "notes-backup", SCRIPT), 1);

  /** Runs `fn` while sampling whether notes runs every 100 ms; returns the longest gap seen. */
  async function watchDowntime<T>(
    fn: () => Promise<T>,
  ): Promise<{ result: T; downMs: number; samples: number }> {
    let down: number | undefined;
    let longest = 0;
    let samples = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const up = await running("notes");
        samples++;
        const now = Date.now();
        if (!up && down === undefined) down = now;
        if (up && down !== undefined) {
          longest = Math.max(longest, now - down);
          down = undefined;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const result = await fn();
    await waitFor("notes running again", () => running("notes"), 30_000, 200);
    done = true;
    await sampler;
    if (down !== undefined) longest = Math.max(longest, Date.now() - down);
    return { result, downMs: longest, samples };
  }

  it("stops notes only while the snapshot runs, starts it again and reports the downtime", async () => {
    const t0 = Date.now();
    const { result, downMs } = await watchDowntime(() => job("home", "notes-backup", "backup"));
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(await running("notes")).toBe(true);
    expect(downMs).toBeGreaterThan(0);
    const beat = recorder.since(t0, (r) =>
      r.url.startsWith(`/api/v1/endpoints/${hb().downtime}/external?`),
    );
    expect(beat).toHaveLength(1);
    const q = new URL(beat[0]!.url, "http://x").searchParams;
    expect(q.get("success")).toBe("true");
    const reported = Number(q.get("duration")!.replace(/s$/, ""));
    console.log(
      `[e2e] stop capture: notes down ${(downMs / 1000).toFixed(1)} s measured, ${reported} s reported`,
    );
    expect(Math.abs(reported * 1000 - downMs)).toBeLessThan(3000);
    const drill = await job("home", "notes-backup", "drill");
    expect(drill.code, drill.stdout + drill.stderr).toBe(0);
  });

  /** A restic that fails (or hangs in) `backup` and is the real one otherwise. */
  async function fakeRestic(mode: "fail" | "hang") {
    const body =
      mode === "fail" ? "sleep 1; echo 'fake: backup failed' >&2; exit 1" : "exec sleep 300";
    await exec(
      "home",
      "notes-backup",
      "cat > /tmp/restic && chmod 0755 /tmp/restic",
      `#!/bin/sh\n[ "$1" = backup ] || exec restic "$@"\n${body}\n`,
    );
  }

  it("starts notes again when restic fails", async () => {
    await fakeRestic("fail");
    const t0 = Date.now();
    const { result, downMs } = await watchDowntime(() =>
      docker("home", [
        "exec",
        "-e",
        "RESTIC=/tmp/restic",
        "notes-backup",
        "homelab-backup",
        "backup",
      ]),
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout).toMatch(/backup of data failed/);
    expect(await running("notes")).toBe(true);
    const failed = recorder.since(t0, (r) =>
      r.url.startsWith(`/api/v1/endpoints/${hb().backup}/external?success=false`),
    );
    expect(failed).toHaveLength(1);
    console.log(`[e2e] stop capture, restic failing: notes down ${(downMs / 1000).toFixed(1)} s`);
  });

  /** A backup whose snapshot hangs, in the background; resolves once it has stopped notes. */
  async function hangingBackup() {
    await fakeRestic("hang");
    const done = docker(
      "home",
      ["exec", "-e", "RESTIC=/tmp/restic", "notes-backup", "homelab-backup", "backup"],
      { timeoutMs: 60_000 },
    );
    return {
      done,
      stopped: () =>
        waitFor("notes stopped by the job", async () => !(await running("notes")), 30_000, 100),
    };
  }

  it("starts notes again when the job is killed (SIGKILL) while notes is stopped", async () => {
    const bg = await hangingBackup();
    const { downMs } = await watchDowntime(async () => {
      await bg.stopped();
      // A second backup meanwhile (cron's next, or one by hand) is refused, and changes nothing.
      const second = await job("home", "notes-backup", "backup");
      expect(second.code).not.toBe(0);
      expect(second.stdout).toMatch(/another backup of notes is running/);
      expect(await running("notes")).toBe(false);
      // The job's shell (which wrote its PID; its watchdog is a child and lives on).
      await execOk("home", "notes-backup", 'kill -9 "$(cat /run/homelab-capture/job.pid)"');
    });
    await bg.done;
    expect(await running("notes")).toBe(true);
    // The hanging snapshot was ended too: a snapshot of a running service is no capture.
    expect(
      await execOk("home", "notes-backup", "ps -o args | grep -c '^[s]leep 300' || true"),
    ).toMatch(/^0\s*$/);
    console.log(`[e2e] stop capture, job killed: notes down ${(downMs / 1000).toFixed(1)} s`);
  });

  it("starts notes again when the sidecar itself is stopped mid-backup (a replacement)", async () => {
    const bg = await hangingBackup();
    const { downMs } = await watchDowntime(async () => {
      await bg.stopped();
      await dockerOk("home", ["stop", "-t", "30", "notes-backup"]);
    });
    await bg.done;
    expect(await running("notes")).toBe(true);
    console.log(`[e2e] stop capture, sidecar stopped: notes down ${(downMs / 1000).toFixed(1)} s`);
    await dockerOk("home", ["start", "notes-backup"]);
  });

  it("the job's Docker API allows stop/start of notes and refuses everything else", async () => {
    const api = "http://notes-backup-docker:2375";
    const call = async (path: string, body?: string) => {
      const r = await exec(
        "home",
        "notes-backup",
        `wget -S -O /dev/null ${body === undefined ? "" : `--header 'Content-Type: application/json' --post-data '${body}'`} '${api}/${path}' 2>&1 | sed -n 's|^.*HTTP/1\\.[01] \\([0-9][0-9][0-9]\\).*$|\\1|p' | head -n 1`,
      );
      return r.stdout.trim();
    };
    const tried: Record<string, string> = {
      create: await call(
        "v1.41/containers/create?name=evil",
        '{"Image":"restic/restic:0.18.0","HostConfig":{"Binds":["/:/host"]}}',
      ),
      exec: await call("v1.41/containers/notes/exec", '{"Cmd":["id"]}'),
      "stop another": await call("v1.41/containers/vaultwarden/stop", ""),
      "kill notes": await call("v1.41/containers/notes/kill", ""),
      "inspect notes": await call("v1.41/containers/notes/json"),
      "list containers": await call("v1.41/containers/json"),
      "old API start with a body": await call(
        "v1.23/containers/notes/start",
        '{"Privileged":true}',
      ),
    };
    console.log(`[e2e] notes-backup's Docker API: ${JSON.stringify(tried)}`);
    for (const [what, code] of Object.entries(tried)) expect(code, what).toBe("403");
    expect(await running("vaultwarden")).toBe(true);
    expect((await docker("home", ["inspect", "evil"])).code).not.toBe(0);
    // What it may do, it can.
    expect(await call("v1.41/containers/notes/stop?t=5", "")).toBe("204");
    expect(await call("v1.41/containers/notes/start", "")).toBe("204");
  });
});

describe("capture: hook", () => {
  it("runs the declared export in the service's container before the snapshot, and post after it", async () => {
    const r = await job("home", "journal-backup", "backup");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/hook pre done/);
    expect(r.stdout).toMatch(/hook post done/);
    // Written by the exec in journal's own container (its hostname), not by the sidecar.
    const live = await execOk("home", "journal", "cat /data/export.txt /data/hook.log");
    expect(live).toMatch(/^export of journal at \d+\ndone\n$/);
    const drill = await job("home", "journal-backup", "drill");
    expect(drill.code, drill.stdout + drill.stderr).toBe(0);
    // The snapshot holds the export the pre command wrote.
    const restored = await execOk(
      "home",
      "journal-backup",
      "export RESTIC_REPOSITORY=/backups/home/journal RESTIC_PASSWORD_FILE=/run/homelab/restic-password; restic dump latest /data/data/export.txt",
    );
    expect(restored).toBe(live.split("\n")[0] + "\n");
    // Any other command in the same container is refused by the proxy.
    const other = await exec(
      "home",
      "journal-backup",
      `wget -S -O /dev/null --header 'Content-Type: application/json' --post-data '{"AttachStdout":true,"AttachStderr":true,"Cmd":["id"]}' http://journal-backup-docker:2375/v1.41/containers/journal/exec 2>&1 | grep -o 'HTTP/1.1 [0-9]*' | head -n 1`,
    );
    expect(other.stdout.trim()).toBe("HTTP/1.1 403");
  });
});
