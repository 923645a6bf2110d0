/**
 * The keyless verification of a replica (issue 11, item 1), run for real: a restic repository
 * made by the real restic binary, the writer's generated script publishing its manifest, and
 * the storage-only host's generated script verifying the copy without any password, under
 * busybox sh as in the container. Heartbeats and ntfy messages are recorded (busybox runs its
 * own wget applet first, so wget is a shell function defined before the script is sourced).
 *
 * Why it can work without the key: restic names every repository file but `config` by the
 * SHA-256 of its content (restic v0.18.0 doc/design.rst:36-46 "Repository Format"; in code:
 * packs internal/repository/packer_manager.go:251, index/snapshots
 * internal/repository/repository.go:488-494 `restic.Hash(ciphertext)`, keys
 * internal/repository/key.go:270 `restic.Hash(buf)`), so `sha256sum` of a file must equal its
 * name, and the writer's manifest adds `config`'s hash and the list of files that must exist.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { lacks } from "./tools";
import { BackupScriptInput, MANIFEST_FILE, renderBackupScript } from "../configs/backup";

const PASSWORD = "writer-only-password";
let root: string;
let repo: string;

function restic(args: string[], env: Record<string, string> = {}) {
  return execFileSync("restic", ["-r", repo, ...args], {
    env: { PATH: "/usr/bin:/bin", RESTIC_PASSWORD: PASSWORD, HOME: root, ...env },
    encoding: "utf8",
  });
}

const writer = (repository: string): BackupScriptInput => ({
  server: "home",
  mode: "writer",
  repos: [
    {
      origin: "home",
      service: "vaultwarden",
      repository,
      passwordFile: "/run/homelab/restic-password",
      heartbeats: { backup: "b", check: "c", drill: "d" },
      verifyFiles: [],
      databases: [],
    },
  ],
  writer: {
    volumes: [],
    retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 6 },
    capture: { kind: "files" },
  },
  gatusUrl: "http://gatus:8080",
  ntfyUrl: "https://ntfy.example.com/homelab-offsite",
  checkSubset: "5%",
  packages: [],
});

const storage = (repository: string): BackupScriptInput => ({
  server: "offsite",
  mode: "storage",
  repos: [
    {
      origin: "home",
      service: "vaultwarden",
      repository,
      passwordFile: "",
      heartbeats: { verify: "offsite-replicas_verify-home-vaultwarden" },
      verifyFiles: [],
      databases: [],
    },
  ],
  gatusUrl: "http://gatus:8080",
  ntfyUrl: "https://ntfy.example.com/homelab-offsite",
  checkSubset: "5%",
  packages: [],
});

/** Runs a rendered script under busybox sh with `args`; wget calls are logged, not sent. */
function run(input: BackupScriptInput, args: string[]) {
  const dir = mkdtempSync(join(root, "run-"));
  const secrets = join(dir, "secrets");
  mkdirSync(secrets);
  writeFileSync(join(secrets, "heartbeat-token"), "hb-token-of-backup-replicas");
  writeFileSync(join(secrets, "ntfy-token"), "tk_offsite");
  const script = renderBackupScript(input).replace(
    "SECRETS='/run/homelab'",
    `SECRETS='${secrets}'`,
  );
  writeFileSync(join(dir, "homelab-backup"), script);
  const log = join(dir, "log");
  writeFileSync(log, "");
  const r = spawnSync(
    "busybox",
    ["sh", "-c", 'wget() { echo "wget $*" >>"$LOG"; }; . "$SCRIPT"', "homelab-backup", ...args],
    {
      env: {
        PATH: "/usr/bin:/bin",
        LOG: log,
        SCRIPT: join(dir, "homelab-backup"),
        TMPDIR: dir,
        HOME: root,
      },
      encoding: "utf8",
    },
  );
  const calls = readFileSync(log, "utf8").split("\n").filter(Boolean);
  return {
    status: r.status,
    out: r.stdout + r.stderr,
    heartbeats: calls.filter((c) => c.includes("/api/v1/endpoints/")),
    ntfy: calls.filter((c) => c.includes("ntfy.example.com")),
  };
}

/** A fresh copy of the writer's repository, as Syncthing would have delivered it. */
function replica(): string {
  const copy = mkdtempSync(join(root, "replica-"));
  cpSync(repo, copy, { recursive: true });
  return copy;
}

const filesUnder = (dir: string, sub: string) =>
  (readdirSync(join(dir, sub), { recursive: true, withFileTypes: true }) as import("fs").Dirent[])
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();

// A real restic repository and the scripts under busybox sh: both must be installed
// (scripts/ensure-tools.sh --unit); without them the suites below are skipped, under CI they fail.
const missing = lacks("restic", "busybox");

beforeAll(() => {
  if (missing) return;
  root = mkdtempSync(join(tmpdir(), "homelab-verify-"));
  repo = join(root, "backups", "home", "vaultwarden");
  mkdirSync(join(root, "src"));
  restic(["init"]);
  for (const [i, text] of ["first", "second"].entries()) {
    writeFileSync(join(root, "src", `file-${i}.txt`), `${text}\n`.repeat(50_000));
    restic(["backup", join(root, "src")]);
  }
  const r = run(writer(repo), ["manifest"]);
  expect(r.status, r.out).toBe(0);
});

describe.skipIf(missing || lacks("sha256sum"))("the writer's manifest", () => {
  it("lists config with its SHA-256 and every data, index, snapshot and key file by its name", () => {
    const manifest = readFileSync(join(repo, MANIFEST_FILE), "utf8");
    const lines = manifest.trim().split("\n");
    const listed = lines.map((l) => l.split("  ")[1]!).sort();
    const expected = [
      "config",
      ...["data", "index", "keys", "snapshots"].flatMap((d) => filesUnder(repo, d)),
    ].sort();
    expect(listed).toEqual(expected);
    expect(listed.filter((f) => f.startsWith("snapshots/"))).toHaveLength(2);
    // The format sha256sum -c reads, and the hashes are the files' real SHA-256.
    const check = spawnSync("sha256sum", ["-c", MANIFEST_FILE], { cwd: repo, encoding: "utf8" });
    expect(check.status, check.stdout).toBe(0);
    // restic is untroubled by the extra file at the repository's root.
    expect(restic(["check"])).toContain("no errors were found");
  });
});

describe.skipIf(missing)("storage-only verification, without the key", () => {
  it("a clean replica passes and reports a successful heartbeat", () => {
    const copy = replica();
    const r = run(storage(copy), ["verify", "1"]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/verify ok/);
    expect(r.heartbeats).toHaveLength(1);
    expect(r.heartbeats[0]).toContain(
      "offsite-replicas_verify-home-vaultwarden/external?success=true",
    );
    expect(r.heartbeats[0]).toContain("Authorization: Bearer hb-token-of-backup-replicas");
    expect(r.ntfy).toEqual([]);
    // No password anywhere in what the storage host's script is or reads.
    expect(renderBackupScript(storage(copy))).not.toContain("restic-password");
  });

  it.each([
    [
      "a flipped byte in a pack file",
      (copy: string) => {
        const pack = filesUnder(copy, "data")[0]!;
        const buf = readFileSync(join(copy, pack));
        buf[100] = buf[100]! ^ 0xff;
        writeFileSync(join(copy, pack), buf);
        return `changed ${pack}`;
      },
    ],
    [
      "a deleted pack file",
      (copy: string) => {
        const pack = filesUnder(copy, "data")[0]!;
        rmSync(join(copy, pack));
        return `missing ${pack}`;
      },
    ],
    [
      "a deleted snapshot",
      (copy: string) => {
        const snap = filesUnder(copy, "snapshots")[0]!;
        rmSync(join(copy, snap));
        return `missing ${snap}`;
      },
    ],
    [
      "a changed config",
      (copy: string) => {
        appendFileSync(join(copy, "config"), "x");
        return "changed config";
      },
    ],
    [
      "a forged file the manifest does not list",
      (copy: string) => {
        const name = "ab".padEnd(64, "0");
        mkdirSync(join(copy, "data", "ab"), { recursive: true });
        writeFileSync(join(copy, "data", "ab", name), "not what the name says");
        return `changed data/ab/${name}`;
      },
    ],
    [
      "no manifest",
      (copy: string) => {
        rmSync(join(copy, MANIFEST_FILE));
        return "has no manifest";
      },
    ],
  ])("%s is detected: exit 1, error heartbeat with the file, ntfy alert", (_, damage) => {
    const copy = replica();
    const what = damage(copy);
    const r = run(storage(copy), ["verify", "1"]);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toContain(what);
    expect(r.heartbeats).toHaveLength(1);
    expect(r.heartbeats[0]).toContain("success=false");
    expect(decodeURIComponent(r.heartbeats[0]!)).toContain(what);
    expect(r.ntfy).toHaveLength(1);
    expect(r.ntfy[0]).toContain("Title: verify failed: vaultwarden from home on offsite");
  });

  it("a missing replica is a failure, and check and drill refuse to run without the key", () => {
    const r = run(storage(join(root, "nowhere")), ["verify", "1"]);
    expect(r.status).toBe(1);
    expect(r.out).toContain("missing");
    for (const job of ["check", "drill"]) {
      const k = run(storage(replica()), [job, "1"]);
      expect(k.status).toBe(2);
      expect(k.out).toContain("offsite keeps replicas without their keys: only verify runs here");
    }
  });
});
