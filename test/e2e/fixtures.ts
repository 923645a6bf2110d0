/**
 * The lab's stand-ins and probes around the program's containers: the Gatus/ntfy forwarder,
 * a demo stateful service (files) and a demo database (a dump over the network), the dump
 * tool the sidecar would install with apk, and readers of the generated files.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import type { Evaluation } from "../../cli/evaluate";
import { container, uploadOf } from "../helpers";
import { NTFY_HOST, RECORDER_PORTS } from "./constants";
import { ServerName, docker, dockerOk, exec, execOk, lab } from "./lab";

export const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** A file of the generated config of a container, as the program uploads it. */
export function generated(e: Evaluation, containerName: string, file: string): string {
  return uploadOf(container(e, containerName), file).content;
}

/**
 * Gatus and ntfy cannot run here: a container named `gatus` on the proxy network (the name the
 * sidecars post heartbeats to) with the ntfy host as network alias forwards ports 8080 and
 * 443 to the recorder on the lab bridge. Plain TCP forwarding: TLS ends at the recorder, with
 * a certificate of the lab CA that the images trust.
 */
export async function startForwarder(server: ServerName, proxyNetwork: string): Promise<void> {
  const l = lab();
  const fwd = (port: number, to: number) => `nc -ll -p ${port} -e nc ${l.bridgeIp} ${to}`;
  await dockerOk(server, [
    "run",
    "-d",
    "--name",
    "gatus",
    "--network",
    proxyNetwork,
    "--network-alias",
    NTFY_HOST,
    "--label",
    "homelab.e2e=stand-in",
    "--entrypoint",
    "sh",
    l.images.restic,
    "-c",
    `${fwd(8080, RECORDER_PORTS.http)} & exec ${fwd(443, RECORDER_PORTS.https)}`,
  ]);
}

/** Files of the demo stateful service: name → content. */
export type FileSet = Record<string, Buffer>;

/**
 * A real SQLite database of about 1 MiB holding `tag` (made with this machine's sqlite3, in
 * rollback-journal mode, so it is one file): Vaultwarden's capture copies it with VACUUM INTO.
 */
export function demoDatabase(tag: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "homelab-e2e-db-"));
  try {
    execFileSync("sqlite3", [
      join(dir, "db"),
      `PRAGMA journal_mode=DELETE; CREATE TABLE t(tag TEXT, pad BLOB); INSERT INTO t VALUES('${tag}', randomblob(1048576));`,
    ]);
    return readFileSync(join(dir, "db"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The file of the demo set that capture: sqlite copies online instead of as it is. */
export const DEMO_DATABASE = "db.sqlite3";

/** A demo data set: a real SQLite database, small files, nested dirs, an empty file. */
export function demoFiles(tag: string): FileSet {
  return {
    [DEMO_DATABASE]: demoDatabase(tag),
    "config.json": Buffer.from(JSON.stringify({ domain: "https://vault.example", tag }) + "\n"),
    "attachments/a1/file.bin": randomBytes(200_000),
    "attachments/a2/note.txt": Buffer.from(`note ${tag}\n`),
    "sends/empty": Buffer.alloc(0),
  };
}

/**
 * The demo stateful service: a long-running container on the service's data volume (the real
 * image cannot be pulled here) that writes the given files, replacing what was there.
 */
export async function writeServiceFiles(
  server: ServerName,
  name: string,
  volume: string,
  mountPath: string,
  files: FileSet,
): Promise<void> {
  const running = await docker(server, ["inspect", "-f", "{{.State.Running}}", name]);
  if (running.stdout.trim() !== "true") {
    await docker(server, ["rm", "-f", name]);
    await dockerOk(server, [
      "run",
      "-d",
      "--name",
      name,
      "--label",
      "homelab.e2e=demo-service",
      "-v",
      `${volume}:${mountPath}`,
      "--entrypoint",
      "sh",
      lab().images.restic,
      "-c",
      "trap 'exit 0' TERM; while :; do sleep 1; done",
    ]);
  }
  // base64 through stdin: the files cross SSH as data, not as a command line.
  const script = Object.keys(files)
    .map(
      (f) =>
        `mkdir -p "$(dirname '${mountPath}/${f}')" && base64 -d > '${mountPath}/${f}' <<'B64'\n${files[f]!.toString("base64")}\nB64`,
    )
    .join("\n");
  const r = await exec(server, name, `rm -rf ${mountPath}/* && sh -s`, script + "\n");
  if (r.code !== 0) throw new Error(`writing demo files into ${name}: ${r.stderr}`);
}

/** sha256 of every file under `dir` in a container: relative path → hash. */
export async function hashesIn(
  server: ServerName,
  containerName: string,
  dir: string,
): Promise<Record<string, string>> {
  const out = await execOk(
    server,
    containerName,
    `cd '${dir}' && find . -type f | sort | while read -r f; do sha256sum "$f"; done`,
  );
  const m: Record<string, string> = {};
  for (const line of out.split("\n").filter(Boolean)) {
    const [hash, path] = line.split(/\s+/, 2) as [string, string];
    m[path.replace(/^\.\//, "")] = hash;
  }
  return m;
}

/** The files a snapshot holds as they are: all but the database, whose copy is in /sqlite. */
export function plainFiles(files: FileSet): FileSet {
  return Object.fromEntries(Object.entries(files).filter(([f]) => f !== DEMO_DATABASE));
}

export function hashesOf(files: FileSet): Record<string, string> {
  return Object.fromEntries(
    Object.keys(files)
      .sort()
      .map((f) => [f, sha256(files[f]!)]),
  );
}

/**
 * The demo database: a container named like the service the dump command connects to, on its
 * group network, serving a dump over HTTP on port 5432 (busybox httpd: Postgres cannot run).
 */
export async function startDemoDatabase(
  server: ServerName,
  name: string,
  network: string,
  dump: Buffer,
): Promise<void> {
  await docker(server, ["rm", "-f", name]);
  await dockerOk(server, [
    "run",
    "-d",
    "--name",
    name,
    "--network",
    network,
    "--label",
    "homelab.e2e=demo-database",
    "--entrypoint",
    "sh",
    lab().images.restic,
    "-c",
    "mkdir -p /www && exec httpd -f -p 5432 -h /www",
  ]);
  const r = await exec(
    server,
    name,
    "mkdir -p /www && base64 -d > /www/dump.sql",
    dump.toString("base64") + "\n",
  );
  if (r.code !== 0) throw new Error(`demo database ${name}: ${r.stderr}`);
}

/**
 * What `apk add postgresql17-client` gives the sidecar in production: a `pg_dump` on PATH. The
 * lab's stands in for it: it needs PGPASSWORD (sourced from the generated dump.env) and streams
 * the dump from `-h HOST` over the network, failing when the database is unreachable.
 */
export const PG_DUMP_STANDIN = `#!/bin/sh
# lab stand-in for pg_dump (postgresql17-client cannot be installed here)
host=
while [ $# -gt 0 ]; do case "$1" in -h) host=$2; shift ;; esac; shift; done
[ -n "\${PGPASSWORD:-}" ] || { echo "pg_dump: no PGPASSWORD" >&2; exit 1; }
[ -n "$host" ] || { echo "pg_dump: no -h" >&2; exit 1; }
exec wget -q -O - "http://$host:5432/dump.sql"
`;

export async function installPgDump(server: ServerName, containerName: string): Promise<void> {
  const r = await exec(
    server,
    containerName,
    "cat > /usr/local/bin/pg_dump && chmod 0755 /usr/local/bin/pg_dump",
    PG_DUMP_STANDIN,
  );
  if (r.code !== 0) throw new Error(`installing pg_dump stand-in: ${r.stderr}`);
}

/** Gatus's key of an external endpoint: `<group>_<name>`, both sanitised as Gatus does. */
export function gatusKey(group: string, name: string): string {
  const s = (x: string) => x.toLowerCase().replace(/[ /_,.#+&]/g, "-");
  return `${s(group)}_${s(name)}`;
}

/** Keys of the external (heartbeat) endpoints in a server's generated Gatus config. */
export function gatusHeartbeatKeys(e: Evaluation): string[] {
  const doc = parse(generated(e, "gatus", "/config/config.yaml")) as {
    "external-endpoints"?: { name: string; group: string }[];
  };
  return (doc["external-endpoints"] ?? []).map((x) => gatusKey(x.group, x.name));
}

/** Runs the generated job script in a backup container: `homelab-backup ARGS`. */
export function job(server: ServerName, containerName: string, args: string) {
  return docker(server, ["exec", containerName, "homelab-backup", ...args.split(" ")], {
    timeoutMs: 180_000,
  });
}

/** The replica script's repository number of `<origin>/<service>` (1-based, as `drill N` takes). */
export function replicaIndex(script: string, origin: string, service: string): number {
  const m = new RegExp(`\\n\\s*(\\d+)\\)\\n\\s*ORIGIN='${origin}' SERVICE='${service}'`).exec(
    script,
  );
  if (!m) throw new Error(`the replica script has no repository ${origin}/${service}`);
  return Number(m[1]);
}

/** The heartbeat keys the generated script posts for its repository number `n` ("" for none). */
export function scriptHeartbeats(
  script: string,
  n: number,
): { backup: string; check: string; drill: string; verify: string; downtime: string } {
  const block = new RegExp(`\\n\\s*${n}\\)\\n([\\s\\S]*?);;`).exec(script)?.[1];
  const get = (k: string) => new RegExp(`${k}='([^']*)'`).exec(block ?? "")?.[1] ?? "";
  const keys = {
    backup: get("HB_BACKUP"),
    check: get("HB_CHECK"),
    drill: get("HB_DRILL"),
    verify: get("HB_VERIFY"),
    downtime: get("HB_DOWNTIME"),
  };
  if (!Object.values(keys).some(Boolean))
    throw new Error(`the script has no heartbeat keys for repository ${n}`);
  return keys;
}
