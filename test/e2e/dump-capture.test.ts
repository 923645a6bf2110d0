/**
 * capture: dump, with a real PostgreSQL: home's immich-db backup job, as the program generates
 * it, dumps a scratch database through restic; its drill accepts the dump; the dump replays
 * with the pipeline docs/restore.md gives ("### `dump`"), into an empty database and over the
 * changed live one, and both then hold exactly what was dumped. A dump cut off mid-way is
 * refused by the drill, and a failing pg_dump fails the backup, leaving no snapshot.
 *
 * On this machine, not in the lab's engines: restic is the lab's 0.18 (the sidecar image's; Debian
 * 12's 0.14 has no --stdin-from-command), and busybox sh runs the job's functions as the sidecar
 * does. The server is Debian's (15 here) and so is pg_dump, where the sidecar runs Alpine's pg_dump 17
 * against Immich's Postgres 14: the `grep -v '^SET transaction_timeout'` of the restore
 * pipeline is for that pair and does nothing here. The job's own parts run unchanged: only the
 * repository, backup root, secrets and state folders, and `-h immich-db` of the dump command (a hostname
 * on the service group's network) are pointed at scratch ones.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKUP_PATHS } from "../../configs/backup";
import { container, referenceFleet, uploadOf } from "../helpers";
import { Scratch, busybox, definitions, makeScratch, substitute } from "../script-run";
import { lacks } from "../tools";
import { lab } from "./lab";

/**
 * The newest PostgreSQL server Debian installed: `postgresql` puts its binaries here and
 * pg_ctlcluster on the PATH (scripts/ensure-tools.sh --e2e installs it).
 */
function pgBin(): string {
  const bin = (existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql") : [])
    .filter((v) => /^\d+$/.test(v) && existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))
    .sort((a, b) => Number(a) - Number(b))
    .map((v) => `/usr/lib/postgresql/${v}/bin`)
    .at(-1);
  if (!bin) throw new Error("no /usr/lib/postgresql/*/bin/initdb: apt-get install postgresql");
  return bin;
}

/** initdb and postgres refuse to run as root: as root they run as the package's user. */
const AS_ROOT = process.getuid?.() === 0;
const asServer = (cmd: string, args: string[]) =>
  AS_ROOT
    ? execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args])
    : execFileSync(cmd, args);

const PORT = "5499";
const ROWS = 3000;

/** What the test puts in: several kinds of object and value a dump must carry over. */
const FIXTURE = `
CREATE TABLE assets (id serial PRIMARY KEY, name text NOT NULL, meta jsonb, thumb bytea, taken timestamptz);
CREATE INDEX assets_name ON assets (name);
CREATE TABLE albums (id serial PRIMARY KEY, title text UNIQUE);
CREATE TABLE album_assets (album int REFERENCES albums(id) ON DELETE CASCADE, asset int REFERENCES assets(id), PRIMARY KEY (album, asset));
CREATE VIEW album_sizes AS SELECT album, count(*) AS n FROM album_assets GROUP BY album;
CREATE FUNCTION shout(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT upper(t) || '!' $$;
INSERT INTO assets (name, meta, thumb, taken)
  SELECT 'IMG_' || i || ' Æøå ' || chr(10) || 'ünïcode ''quoted'' \\back', jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i % 7)),
         decode(md5(i::text), 'hex'), timestamptz '2024-01-01 00:00+00' + i * interval '1 minute'
  FROM generate_series(1, ${ROWS}) i;
INSERT INTO albums (title) SELECT 'album ' || i FROM generate_series(1, 20) i;
INSERT INTO album_assets SELECT 1 + i % 20, i FROM generate_series(1, ${ROWS}) i;
`;

/** One line per object and a digest of every table's rows: equal when the content is. */
const DIGEST = `
SELECT 'assets ' || count(*) || ' ' || md5(string_agg(a::text, ',' ORDER BY id)) FROM assets a;
SELECT 'albums ' || count(*) || ' ' || md5(string_agg(a::text, ',' ORDER BY id)) FROM albums a;
SELECT 'album_assets ' || count(*) || ' ' || md5(string_agg(a::text, ',' ORDER BY album, asset)) FROM album_assets a;
SELECT 'view ' || string_agg(album || ':' || n, ',' ORDER BY album) FROM album_sizes;
SELECT 'function ' || shout('ok');
SELECT 'next id ' || nextval('assets_id_seq');
`;

describe.skipIf(lacks("busybox", "pg_dump", "psql", "pg_ctlcluster"))(
  "capture: dump, with a real PostgreSQL and home's immich-db job",
  () => {
    let dir: string;
    let sock: string;
    let s: Scratch;
    let lib: string;
    let repo: string;
    let PG_BIN: string;
    /** restic 0.18 of Debian 13, the sidecar image's (Debian 12's 0.14 has no --stdin-from-command). */
    let RESTIC: string;

    /** psql with `sql` on its standard input: each statement in its own transaction. */
    const psql = (db: string, sql: string, user = "immich") =>
      execFileSync(
        "psql",
        ["-h", sock, "-p", PORT, "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt"],
        {
          encoding: "utf8",
          input: sql,
        },
      );
    const restic = (...args: string[]) =>
      spawnSync(
        RESTIC,
        [
          "-r",
          repo,
          "--password-file",
          join(s.dir, "secrets", "restic-password"),
          "--no-lock",
          ...args,
        ],
        {
          encoding: "utf8",
        },
      );
    /** The job's functions under busybox sh, with `command` run after them. */
    const job = (command: string, script = lib) => busybox(s, script, command);

    beforeAll(async () => {
      PG_BIN = pgBin();
      RESTIC = lab().bin.restic;
      dir = mkdtempSync(join(tmpdir(), "homelab-dump-"));
      sock = join(dir, "pg");
      execFileSync("mkdir", ["-p", sock]);
      if (AS_ROOT) for (const d of [dir, sock]) chownSync(d, uidOf("postgres"), 0);
      const data = join(sock, "data");
      asServer(`${PG_BIN}/initdb`, [
        "-D",
        data,
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
      ]);
      asServer(`${PG_BIN}/pg_ctl`, [
        "-D",
        data,
        "-o",
        `-k ${sock} -c listen_addresses='' -p ${PORT}`,
        "-l",
        join(sock, "log"),
        "-w",
        "start",
      ]);
      psql(
        "postgres",
        "CREATE ROLE immich LOGIN; CREATE DATABASE immich OWNER immich;",
        "postgres",
      );
      psql("immich", FIXTURE);

      // The job script of home's immich-db backup, as the program generates it.
      const home = (await referenceFleet()).evaluations.home!;
      const script = uploadOf(container(home, "immich-db-backup"), BACKUP_PATHS.script).content;
      s = makeScratch(dir);
      symlinkSync(RESTIC, join(s.bin, "restic"));
      repo = join(s.dir, "repo");
      execFileSync("mkdir", ["-p", join(s.dir, "secrets"), join(s.dir, "state")]);
      writeFileSync(join(s.dir, "secrets", "restic-password"), "a scratch repository password\n");
      writeFileSync(join(s.dir, "secrets", "dump.env"), "PGPASSWORD=unused-with-trust\n");
      let defs = definitions(script);
      defs = substitute(defs, "'/backups/home/immich-db'", `'${repo}'`);
      defs = substitute(
        defs,
        "RESTIC_PASSWORD_FILE='/run/homelab/restic-password'",
        `RESTIC_PASSWORD_FILE='${join(s.dir, "secrets", "restic-password")}'`,
      );
      defs = substitute(
        defs,
        "DUMP_ENV_FILE='/run/homelab/dump.env'",
        `DUMP_ENV_FILE='${join(s.dir, "secrets", "dump.env")}'`,
      );
      defs = substitute(defs, `STATE='${BACKUP_PATHS.state}'`, `STATE='${join(s.dir, "state")}'`);
      defs = substitute(defs, "BACKUP_ROOT='/backups'", `BACKUP_ROOT='${s.dir}'`);
      defs = substitute(defs, " -h immich-db ", ` -h ${sock} -p ${PORT} `);
      lib = defs;
    }, 120_000);

    afterAll(() => {
      if (sock && existsSync(join(sock, "data", "postmaster.pid")))
        asServer(`${PG_BIN}/pg_ctl`, ["-D", join(sock, "data"), "-m", "immediate", "-w", "stop"]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("the dump goes into restic whole, the drill accepts it, and it replays into an empty database and over the live one", async () => {
      const dumped = psql("immich", DIGEST);
      const backup = await job('run_backup; echo "rc=$?"');
      expect(backup.out, backup.out).toMatch(/rc=0\n$/);
      expect(backup.calls).toEqual([expect.stringMatching(/^heartbeat \S+ true {2}\d+$/)]);
      const drill = await job('run_drill 1; echo "rc=$?"');
      expect(drill.out, drill.out).toMatch(/rc=0\n$/);

      // What pg_dump wrote, as restic keeps it: its trailer last (then, since 15.14, \unrestrict).
      const file = restic(
        "dump",
        "latest",
        "--host",
        "home",
        "--tag",
        "immich-db,dump",
        "/immich.sql",
      );
      expect(file.status, file.stderr).toBe(0);
      expect(file.stdout).toMatch(/^-- PostgreSQL database dump complete\n/m);
      expect(file.stdout.slice(-512)).toContain("PostgreSQL database dump complete");

      // docs/restore.md: restic … dump … | grep -v '^SET transaction_timeout' | psql -v ON_ERROR_STOP=1
      const replay = (db: string) =>
        execFileSync(
          "sh",
          [
            "-c",
            `"$RESTIC" -r "$REPO" --password-file "$PW" --no-lock dump latest --host home --tag immich-db,dump /immich.sql | grep -v '^SET transaction_timeout' | psql -h "$SOCK" -p ${PORT} -U immich -d ${db} -v ON_ERROR_STOP=1 -q`,
          ],
          {
            encoding: "utf8",
            env: {
              ...process.env,
              RESTIC,
              REPO: repo,
              PW: join(s.dir, "secrets", "restic-password"),
              SOCK: sock,
            },
          },
        );
      // Into an empty database: the fixture's DIGEST consumed one id from the sequence; the
      // dump carries the sequence as it was, so the next id there is the same as here.
      psql("postgres", "CREATE DATABASE scratch OWNER immich;", "postgres");
      replay("scratch");
      expect(psql("scratch", DIGEST)).toBe(
        dumped.replace(/next id (\d+)/, (_, n) => `next id ${Number(n) + 1}`),
      );

      // Over the live database after it changed: --clean --if-exists drops what the dump
      // recreates, so what was dumped comes back, and what came later is gone.
      psql(
        "immich",
        "INSERT INTO assets (name) VALUES ('later'); DELETE FROM albums WHERE id > 10; DROP VIEW album_sizes;",
      );
      expect(psql("immich", "SELECT count(*) FROM assets")).toBe(`${ROWS + 1}\n`);
      replay("immich");
      expect(psql("immich", DIGEST)).toBe(
        dumped.replace(/next id (\d+)/, (_, n) => `next id ${Number(n) + 1}`),
      );
    }, 120_000);

    it("a dump cut off mid-way is stored, and the drill refuses it", async () => {
      // pg_dump's output ends after 20 000 bytes, as when the job's container is stopped.
      const cut = substitute(lib, "-U immich immich'", "-U immich immich | head -c 20000'");
      const before = snapshots();
      const backup = await job('run_backup; echo "rc=$?"', cut);
      expect(backup.out, backup.out).toMatch(/rc=0\n$/);
      expect(snapshots()).toBe(before + 1);
      const drill = await job('run_drill 1; echo "rc=$?"');
      expect(drill.out).toMatch(/rc=1\n$/);
      expect(drill.calls).toContainEqual(
        expect.stringMatching(
          /^heartbeat \S+ false dump immich\.sql is incomplete: it does not end with 'PostgreSQL database dump complete' \d+$/,
        ),
      );
    }, 60_000);

    it("a failing pg_dump fails the backup with its own error, and stores nothing", async () => {
      const wrong = substitute(lib, "-U immich immich'", "-U immich nosuchdb'");
      const before = snapshots();
      const backup = await job('run_backup; echo "rc=$?"', wrong);
      expect(backup.out).toMatch(/rc=1\n$/);
      expect(backup.calls).toContainEqual(
        expect.stringMatching(
          /^heartbeat \S+ false dump failed: .*database "nosuchdb" does not exist/,
        ),
      );
      expect(snapshots()).toBe(before);
    }, 60_000);

    /** The number of dump snapshots in the repository. */
    function snapshots(): number {
      const r = restic("snapshots", "--tag", "immich-db,dump", "--json");
      expect(r.status, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as unknown[]).length;
    }
  },
);

function uidOf(user: string): number {
  return Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
}
