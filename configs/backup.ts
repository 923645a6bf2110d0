/**
 * The restic job script and crontab of a backup sidecar (writer) or a replica verifier.
 * POSIX sh using only busybox tools (sh, wget, od, tr, sed, mktemp) plus restic. Secrets are
 * read from files mounted by the container, never written into the script.
 */
import { BACKUP_MOUNT } from "../components/defaults";
import type { Retention } from "../lib/model";
import { shellQuote } from "./shell";
import { Heartbeat, HeartbeatKind, heartbeatKey } from "./gatus";

/** Paths inside a backup container. */
export const BACKUP_PATHS = {
  script: "/usr/local/bin/homelab-backup",
  crontab: "/etc/crontabs/root",
  secrets: "/run/homelab",
  data: "/data",
  cache: "/cache",
  scratch: "/tmp",
  /** Consistent copies of SQLite databases (`capture: sqlite`), backed up with the files. */
  sqlite: "/sqlite",
  /** What a running capture must undo if the job dies (`capture: stop`), in the container. */
  state: "/run/homelab-capture",
} as const;

/**
 * The file the writer publishes in its repository after every backup: each repository file
 * with its SHA-256 (sha256sum's format), so a replica can be verified without the key.
 */
export const MANIFEST_FILE = "homelab-manifest.sha256";

/** One repository a script works on. */
export interface RepoJob {
  /** Server that writes the repository (the origin). */
  origin: string;
  /** Service whose data it holds. */
  service: string;
  /** Repository path inside the container. */
  repository: string;
  /** File with the repository password; "" on a host not trusted with the key. */
  passwordFile: string;
  /** Heartbeat keys (`<group>_<name>`) per job; a storage-only replica only verifies. */
  heartbeats: {
    backup?: string;
    check?: string;
    drill?: string;
    verify?: string;
    downtime?: string;
  };
  /** Files that must exist after a restore, as `<volume>/<path>`. */
  verifyFiles: string[];
  /** SQLite databases copied online, as `<volume>/<path>`: the drill runs `PRAGMA integrity_check`. */
  databases: string[];
  /** Name of the dump file in dump snapshots, checked non-empty by the drill. */
  dumpFile?: string;
  /** Text the end of a complete dump holds (the dump tool's trailer), checked by the drill. */
  dumpComplete?: string;
}

/** How the writer captures the data consistently (lib/model.ts `CaptureKind`). */
export type ScriptCapture =
  | { kind: "files" | "dump" | "sqlite" }
  | {
      kind: "stop";
      /** Containers in start order; stopped in the reverse order. */
      containers: string[];
      maxDowntime: number;
      /** `t` of the stop call: seconds each container gets before Docker kills it. */
      stopGrace: number;
      /** Base URL of the job's own Docker API proxy, with the API version. */
      dockerApi: string;
    }
  | {
      kind: "hook";
      container: string;
      /** The exact exec-create bodies of the commands (what the proxy allows). */
      preBody: string;
      postBody?: string;
      execStartBody: string;
      timeout: number;
      dockerApi: string;
    };

/** The writer's extra knowledge: what to back up and how long to keep it. */
export interface WriterJob {
  /** Volume names mounted read-only under /data. */
  volumes: string[];
  dump?: { command: string; filename: string; envFile?: string };
  retention: Retention;
  capture: ScriptCapture;
}

/** Input of `renderBackupScript`. */
export interface BackupScriptInput {
  /** Server the script runs on. */
  server: string;
  /**
   * `writer`: backs up, prunes, checks and drills one repository. `replica`: checks and drills
   * replicas with their keys, only reading. `storage`: verifies replicas without any key
   * (`verify`: every file against the writer's manifest).
   */
  mode: "writer" | "replica" | "storage";
  repos: RepoJob[];
  writer?: WriterJob;
  /** Base URL of this server's Gatus. */
  gatusUrl: string;
  /** Full ntfy topic URL for failure messages, or "" when the fleet has none. */
  ntfyUrl: string;
  /** Share of pack data the periodic check reads, e.g. "5%". */
  checkSubset: string;
  /** Alpine packages to install before starting crond (dump tools). */
  packages: string[];
}

const q = shellQuote;

/** The sidecar's job script. Deterministic for the same input. */
export function renderBackupScript(i: BackupScriptInput): string {
  if (i.mode === "writer" && (!i.writer || i.repos.length !== 1)) {
    throw new Error(
      "renderBackupScript: a writer script needs `writer` and exactly one repository",
    );
  }
  const repoCases = i.repos
    .map((r, n) =>
      [
        `    ${n + 1})`,
        `      ORIGIN=${q(r.origin)} SERVICE=${q(r.service)}`,
        `      export RESTIC_REPOSITORY=${q(r.repository)} RESTIC_PASSWORD_FILE=${q(r.passwordFile)}`,
        `      HB_BACKUP=${q(r.heartbeats.backup ?? "")} HB_CHECK=${q(r.heartbeats.check ?? "")} HB_DRILL=${q(r.heartbeats.drill ?? "")} HB_VERIFY=${q(r.heartbeats.verify ?? "")}`,
        `      HB_DOWNTIME=${q(r.heartbeats.downtime ?? "")}`,
        `      VERIFY_FILES=${q(r.verifyFiles.join(" "))} DATABASES=${q(r.databases.join(" "))}`,
        `      DUMP_FILE=${q(r.dumpFile ?? "")} DUMP_COMPLETE=${q(r.dumpComplete ?? "")}`,
        `      ;;`,
      ].join("\n"),
    )
    .join("\n");
  const w = i.writer;
  const dump = w?.dump;
  const c = w?.capture;
  const stop = c?.kind === "stop" ? c : undefined;
  const hook = c?.kind === "hook" ? c : undefined;
  return `#!/bin/sh
# homelab ${i.mode} backup jobs on ${i.server}. Generated by homelab (configs/backup.ts); do not edit.
# usage: homelab-backup daemon | backup | manifest | check [N] | drill [N] | verify [N] | repos
set -u

SERVER=${q(i.server)}
MODE=${q(i.mode)}
REPO_COUNT=${i.repos.length}
GATUS_URL=${q(i.gatusUrl)}
NTFY_URL=${q(i.ntfyUrl)}
SECRETS=${q(BACKUP_PATHS.secrets)}
BACKUP_ROOT=${q(BACKUP_MOUNT)}
CHECK_SUBSET=${q(i.checkSubset)}
MANIFEST=${q(MANIFEST_FILE)}
PACKAGES=${q(i.packages.join(" "))}
BACKUP_VOLUMES=${q((w?.volumes ?? []).join(" "))}
DUMP_COMMAND=${q(dump?.command ?? "")}
DUMP_FILENAME=${q(dump?.filename ?? "")}
DUMP_ENV_FILE=${q(dump?.envFile ?? "")}
KEEP_DAILY=${w?.retention.keepDaily ?? 0}
KEEP_WEEKLY=${w?.retention.keepWeekly ?? 0}
KEEP_MONTHLY=${w?.retention.keepMonthly ?? 0}
CAPTURE=${q(c?.kind ?? "")}
SQLITE_DIR=${q(BACKUP_PATHS.sqlite)}
STATE=${q(BACKUP_PATHS.state)}
DOCKER_API=${q(stop?.dockerApi ?? hook?.dockerApi ?? "")}
STOP_CONTAINERS=${q((stop?.containers ?? []).join(" "))}
STOP_ORDER=${q([...(stop?.containers ?? [])].reverse().join(" "))}
MAX_DOWNTIME=${stop?.maxDowntime ?? 0}
STOP_GRACE=${stop?.stopGrace ?? 0}
HOOK_CONTAINER=${q(hook?.container ?? "")}
HOOK_PRE=${q(hook?.preBody ?? "")}
HOOK_POST=${q(hook?.postBody ?? "")}
EXEC_START=${q(hook?.execStartBody ?? "")}
HOOK_TIMEOUT=${hook?.timeout ?? 0}
RESTIC=\${RESTIC:-restic}
export RESTIC_CACHE_DIR=${q(BACKUP_PATHS.cache)}

# Read-only restic: replicas are mounted read-only and never locked (a lock would be a write
# into a receive-only folder).
restic_ro() {
  if [ "$MODE" = replica ]; then "$RESTIC" --no-lock "$@"; else "$RESTIC" "$@"; fi
}

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) [\${SERVICE:-$SERVER}] $*"; }

select_repo() {
  case "$1" in
${repoCases}
    *) log "no repository $1 (have $REPO_COUNT)"; exit 2 ;;
  esac
}

urlencode() {
  printf '%s' "$1" | od -An -tx1 -v | tr -d ' \\n' | sed 's/../%&/g'
}

secret() { cat "$SECRETS/$1" 2>/dev/null; }

# heartbeat KEY SUCCESS ERROR SECONDS: report to this server's Gatus (external endpoint).
heartbeat() {
  [ -n "$1" ] || return 0
  url="$GATUS_URL/api/v1/endpoints/$1/external?success=$2&error=$(urlencode "$3")&duration=$4s"
  wget -q -O /dev/null --header "Authorization: Bearer $(secret heartbeat-token)" --post-data "" "$url" \\
    || log "heartbeat $1 could not reach $GATUS_URL"
}

# notify TITLE MESSAGE: failure message to ntfy. No token file (the ntfy server has not
# published one for this server yet: it is not uploaded) is no ntfy, like no URL.
notify() {
  [ -n "$NTFY_URL" ] || return 0
  [ -s "$SECRETS/ntfy-token" ] || { log "no ntfy token yet: no message sent"; return 0; }
  wget -q -O /dev/null --header "Authorization: Bearer $(secret ntfy-token)" --header "Title: $1" \\
    --header "Priority: high" --header "Tags: rotating_light" --post-data "$2" "$NTFY_URL" \\
    || log "ntfy message could not be sent to $NTFY_URL"
}

# finish JOB KEY STARTED RC ERROR: heartbeat with the outcome, ntfy on failure, exit code.
finish() {
  took=$(( $(date +%s) - $3 ))
  if [ "$4" -eq 0 ]; then
    log "$1 ok in \${took}s"
    heartbeat "$2" true "" "$took"
    return 0
  fi
  log "$1 FAILED: $5"
  heartbeat "$2" false "$5" "$took"
  notify "$1 failed: $SERVICE from $ORIGIN on $SERVER" "$5"
  return 1
}

last_error() { tail -n 3 "$1" 2>/dev/null | tr '\\n' ' ' | cut -c1-300; }

# The repository must exist and open with our password. Only a backup creates one (open_repo
# create), and only where nothing is: a wrong password, a missing mount or a damaged repository
# is an error, never a fresh init; a check or drill of a vanished repository fails instead of
# passing on a new empty one.
open_repo() {
  err=$(mktemp)
  if restic_ro cat config >/dev/null 2>"$err"; then rm -f "$err"; return 0; fi
  # The backup volume must be mounted; the server's folder in it may not exist yet.
  if [ "\${1:-}" = create ] && [ "$MODE" = writer ] && [ -d "$BACKUP_ROOT" ] \\
    && { [ ! -e "$RESTIC_REPOSITORY" ] || [ -z "$(ls -A "$RESTIC_REPOSITORY" 2>/dev/null)" ]; }; then
    log "initialising new repository $RESTIC_REPOSITORY"
    if mkdir -p "$(dirname "$RESTIC_REPOSITORY")" 2>"$err" && "$RESTIC" init >/dev/null 2>"$err"; then
      rm -f "$err"
      return 0
    fi
  fi
  REASON="repository $RESTIC_REPOSITORY unusable: $(last_error "$err")"
  rm -f "$err"
  return 1
}

run_backup() {
  select_repo 1
  started=$(date +%s)
  err=$(mktemp)
  REASON=""
  rc=0
  mkdir -p "$STATE"
  # One backup at a time (crond's next run, a manual one): two would share the stop list and
  # the SQLite copies.
  if ! take_lock; then
    rm -f "$err"
    finish backup "$HB_BACKUP" "$started" 1 "another backup of $SERVICE is running (pid $(cat "$STATE/lock/pid" 2>/dev/null))"
    return 1
  fi
  # A stop an earlier job could not undo is undone first: its list must not be lost.
  if [ "$CAPTURE" = stop ] && [ -s "$STATE/stopped" ]; then
    log "an earlier backup left $(tr '\n' ' ' <"$STATE/stopped")stopped: starting them first"
    start_service || { rc=1; REASON="an earlier backup left $SERVICE stopped: $START_FAILED"; }
  fi
  [ $rc -ne 0 ] || open_repo create || rc=1
  if [ $rc -eq 0 ] && [ "$CAPTURE" = sqlite ]; then capture_sqlite "$err" || rc=1; fi
  if [ $rc -eq 0 ] && [ "$CAPTURE" = hook ]; then
    run_hook pre "$HOOK_PRE" || rc=1
  fi
  if [ $rc -eq 0 ] && [ "$CAPTURE" = stop ]; then
    trap 'interrupted' TERM INT HUP
    echo $$ >"$STATE/job.pid"
    : >"$STATE/stopped"
    rm -f "$STATE/overtime"
    date +%s >"$STATE/down_at"
    # Watching from before the first stop: a job killed while a stop is under way is undone.
    watchdog "$$" &
    WATCHDOG=$!
    stop_service || rc=1
  fi
  if [ $rc -eq 0 ] && [ -n "$BACKUP_VOLUMES" ]; then
    set --
    for v in $BACKUP_VOLUMES; do set -- "$@" "${BACKUP_PATHS.data}/$v"; done
    # The live database files are left out; their consistent copies go in instead.
    for db in $DATABASES; do
      for x in "" -wal -shm -journal; do set -- "$@" --exclude "${BACKUP_PATHS.data}/$db$x"; done
    done
    [ "$CAPTURE" != sqlite ] || set -- "$@" "$SQLITE_DIR"
    # In the background, so a signal is handled at once (sh runs a trap only after the
    # foreground command ends) and the watchdog can stop it when the downtime runs out.
    "$RESTIC" backup --retry-lock 5m --host "$SERVER" --tag "$SERVICE" --tag files "$@" >/dev/null 2>"$err" &
    echo $! >"$STATE/restic.pid"
    wait $!
    brc=$?
    rm -f "$STATE/restic.pid"
    if [ $brc -ne 0 ]; then
      rc=1
      REASON="backup of $BACKUP_VOLUMES failed: $(last_error "$err")"
      [ ! -f "$STATE/overtime" ] || REASON="snapshot stopped: the service was down longer than MAX_DOWNTIME=\${MAX_DOWNTIME}s"
    fi
  fi
  if [ "$CAPTURE" = stop ] && [ -n "\${WATCHDOG:-}" ]; then
    start_service || { rc=1; REASON="\${REASON:+$REASON; }$START_FAILED"; }
    # The job reports for itself from here: its watchdog would report a second time.
    kill "$WATCHDOG" 2>/dev/null
    trap - TERM INT HUP
    rm -f "$STATE/job.pid"
  fi
  if [ "$CAPTURE" = hook ] && [ -n "$HOOK_POST" ]; then
    before=$REASON
    run_hook post "$HOOK_POST" || { rc=1; REASON="\${before:+$before; }$REASON"; }
  fi
  rm -rf "$SQLITE_DIR"
  if [ $rc -eq 0 ] && [ -n "$DUMP_COMMAND" ]; then
    # shellcheck disable=SC1090
    [ -z "$DUMP_ENV_FILE" ] || . "$DUMP_ENV_FILE"
    "$RESTIC" backup --retry-lock 5m --host "$SERVER" --tag "$SERVICE" --tag dump \\
      --stdin-filename "$DUMP_FILENAME" --stdin-from-command -- sh -c "$DUMP_COMMAND" >/dev/null 2>"$err" \\
      || { rc=1; REASON="dump failed: $(last_error "$err")"; }
  fi
  if [ $rc -eq 0 ]; then
    "$RESTIC" forget --retry-lock 5m --host "$SERVER" --tag "$SERVICE" --group-by host,tags \\
      --keep-daily "$KEEP_DAILY" --keep-weekly "$KEEP_WEEKLY" --keep-monthly "$KEEP_MONTHLY" --prune >/dev/null 2>"$err" \\
      || { rc=1; REASON="forget/prune failed: $(last_error "$err")"; }
  fi
  # Whatever happened, publish the list of what the repository now holds (if it opened).
  if [ -f "$RESTIC_REPOSITORY/config" ] && ! write_manifest 2>"$err"; then
    [ $rc -ne 0 ] || REASON="manifest not written: $(last_error "$err")"
    rc=1
  fi
  rm -f "$err"
  release_lock
  finish backup "$HB_BACKUP" "$started" "$rc" "$REASON"
}

# The job's lock: a directory (mkdir is atomic) with the holder's PID. A lock whose holder is
# gone (a killed job) is taken over; the container's start clears it (PIDs start again).
take_lock() {
  if mkdir "$STATE/lock" 2>/dev/null; then echo $$ >"$STATE/lock/pid"; return 0; fi
  holder=$(cat "$STATE/lock/pid" 2>/dev/null)
  if [ -n "$holder" ] && kill -0 "$holder" 2>/dev/null; then return 1; fi
  rm -rf "$STATE/lock"
  mkdir "$STATE/lock" 2>/dev/null && echo $$ >"$STATE/lock/pid"
}

release_lock() { rm -rf "$STATE/lock"; }

# capture: sqlite. Each database is copied with VACUUM INTO, one read transaction whose output
# "is a consistent snapshot of the original database", while the service goes on writing
# (https://www.sqlite.org/lang_vacuum.html#vacuuminto). The volume is mounted read-only: mode=ro
# reads a WAL database without writing its -shm (https://www.sqlite.org/wal.html#readonly,
# SQLite 3.22+). A copy that fails PRAGMA integrity_check is not kept.
#
# Only while the service has the database open, though: a WAL database nobody has open has no
# -wal or -shm, and read-only SQLite opens it only "if the -shm and -wal files already exists or
# those files can be created or the database is immutable" (same page), so mode=ro fails with
# "unable to open database file" on this mount (tried: SQLite 3.40, a ro bind mount). The
# service's last close checkpointed every commit into the main file, so capture_closed_wal
# reads that as immutable=1 and keeps the copy only if no writer came meanwhile: in WAL mode
# (header bytes 18-19 = 2, https://www.sqlite.org/fileformat2.html#file_format_version_numbers)
# a writer writes the main file only in a checkpoint out of its -wal, and that changes the
# file's modification and change times, compared to the nanosecond (%y %z; busybox prints
# them so, where %Y is whole seconds: a writer that came and went within the second the file
# was last written slipped past that) along with its size and inode. A failure of this read is
# added to the live read's, which stays first.
file_state() { stat -c '%s %i %y %z' "$1"; }

capture_closed_wal() {
  [ "$(od -An -tu1 -j18 -N2 "$1" | tr -s ' ')" = " 2 2" ] || return 1
  [ -e "$1-wal" ] && return 1
  before=$(file_state "$1")
  rm -f "$2"
  sqlite3 "file:$1?immutable=1" "VACUUM INTO '$2'" >/dev/null 2>>"$3" || return 1
  if [ -e "$1-wal" ] || [ "$(file_state "$1")" != "$before" ]; then
    echo "the service opened it while it was copied; the next backup copies it again" >"$3"
    return 1
  fi
}

capture_sqlite() {
  rm -rf "$SQLITE_DIR"
  for db in $DATABASES; do
    src="${BACKUP_PATHS.data}/$db"
    out="$SQLITE_DIR/$db"
    [ -f "$src" ] || { REASON="sqlite capture: $src does not exist"; return 1; }
    mkdir -p "$(dirname "$out")" || { REASON="sqlite capture: cannot write $SQLITE_DIR"; return 1; }
    if ! sqlite3 -cmd ".timeout 60000" "file:$src?mode=ro" "VACUUM INTO '$out'" >/dev/null 2>"$1" &&
      ! capture_closed_wal "$src" "$out" "$1"; then
      REASON="sqlite capture of $db failed: $(last_error "$1")"
      return 1
    fi
    ok=$(sqlite3 "$out" "PRAGMA integrity_check" 2>&1 | head -n 3 | tr '\\n' ' ')
    [ "$ok" = "ok " ] || { REASON="sqlite capture of $db: the copy fails integrity_check: $ok"; return 1; }
  done
}

# docker_api METHOD PATH [BODY]: a request to this job's own Docker API proxy, which allows
# only what this capture needs (configs/docker-proxy.ts). Prints the HTTP status ("" when
# there was no answer); the response body is in $STATE/api.out.
docker_api() {
  if [ "$1" = POST ]; then
    hdr=$(wget -S -O "$STATE/api.out" --header "Content-Type: application/json" --post-data "\${3:-}" "$DOCKER_API/$2" 2>&1)
  else
    hdr=$(wget -S -O "$STATE/api.out" "$DOCKER_API/$2" 2>&1)
  fi
  printf '%s\\n' "$hdr" | sed -n 's|^.*HTTP/1\\.[01] \\([0-9][0-9][0-9]\\).*$|\\1|p' | head -n 1
}

# capture: stop. Stops the containers (reverse start order). Each is written to
# $STATE/stopped, the list start_service works from, before its stop is asked for (a signal or
# a kill may come while Docker stops it; a start of a running container is a 304); one that was
# not running (304) is taken off the list again and left as it was.
stop_service() {
  for c in $STOP_ORDER; do
    echo "$c" >>"$STATE/stopped"
    touch "$STATE/stopping"
    code=$(docker_api POST "containers/$c/stop?t=$STOP_GRACE")
    rm -f "$STATE/stopping"
    case "$code" in
      204) log "stopped $c" ;;
      304)
        log "$c was not running: left stopped"
        grep -vx "$c" "$STATE/stopped" >"$STATE/stopped.new"
        mv -f "$STATE/stopped.new" "$STATE/stopped"
        ;;
      *) REASON="could not stop $c (HTTP \${code:-no answer} from $DOCKER_API)"; return 1 ;;
    esac
  done
}

# Starts what stop_service stopped (start order), whatever else happened; tries a refused
# start 5 times in all. Reports the downtime as the downtime heartbeat's duration.
start_service() {
  [ -f "$STATE/stopped" ] || return 0
  START_FAILED=""
  if [ ! -s "$STATE/stopped" ]; then
    # Nothing was stopped (none was running): no downtime of ours.
    rm -f "$STATE/stopped" "$STATE/down_at"
    log "nothing was stopped: no downtime"
    return 0
  fi
  for c in $STOP_CONTAINERS; do
    grep -qx "$c" "$STATE/stopped" || continue
    tries=0
    while :; do
      code=$(docker_api POST "containers/$c/start")
      case "$code" in 204 | 304) break ;; esac
      tries=$((tries + 1))
      [ $tries -lt 5 ] || break
      sleep 2
    done
    case "$code" in
      204 | 304) log "started $c" ;;
      *) START_FAILED="\${START_FAILED:+$START_FAILED, }$c NOT started again (HTTP \${code:-no answer})" ;;
    esac
  done
  down=$(( $(date +%s) - $(cat "$STATE/down_at" 2>/dev/null || date +%s) ))
  if [ -n "$START_FAILED" ]; then
    log "DOWN: $START_FAILED"
    heartbeat "$HB_DOWNTIME" false "$START_FAILED" "$down"
    notify "$SERVICE is down after its backup on $SERVER" "$START_FAILED"
    return 1
  fi
  rm -f "$STATE/stopped" "$STATE/down_at"
  log "downtime \${down}s (at most \${MAX_DOWNTIME}s)"
  if [ "$down" -le "$MAX_DOWNTIME" ]; then
    heartbeat "$HB_DOWNTIME" true "" "$down"
  else
    heartbeat "$HB_DOWNTIME" false "down \${down}s, longer than MAX_DOWNTIME=\${MAX_DOWNTIME}s" "$down"
  fi
}

# While the service is stopped: if the job dies (killed), start it again at once; if the
# downtime runs out, stop the snapshot (the job then starts the service and reports).
watchdog() {
  while [ -f "$STATE/stopped" ]; do
    if ! kill -0 "$1" 2>/dev/null; then
      # A stop asked for when the job died still runs in Docker (up to STOP_GRACE), and a
      # start before it ends is a 304: wait it out first.
      [ ! -f "$STATE/stopping" ] || sleep $((STOP_GRACE + 2))
      rm -f "$STATE/stopping"
      recover "the backup job (pid $1) died while $SERVICE was stopped"
      release_lock
      return
    fi
    since=$(( $(date +%s) - $(cat "$STATE/down_at" 2>/dev/null || date +%s) ))
    if [ "$since" -gt "$MAX_DOWNTIME" ] && [ ! -f "$STATE/overtime" ] && [ -f "$STATE/restic.pid" ]; then
      touch "$STATE/overtime"
      log "down \${since}s, longer than \${MAX_DOWNTIME}s: stopping the snapshot"
      kill "$(cat "$STATE/restic.pid")" 2>/dev/null
    fi
    sleep 1
  done
}

# Undo a stop whose job is gone: end its snapshot, start what it stopped, report the backup
# as failed.
recover() {
  [ -f "$STATE/stopped" ] || return 0
  if [ -f "$STATE/restic.pid" ]; then kill "$(cat "$STATE/restic.pid")" 2>/dev/null; rm -f "$STATE/restic.pid"; fi
  log "recovering: $1"
  rm -f "$STATE/job.pid"
  start_service || return 1
  finish backup "$HB_BACKUP" "$(date +%s)" 1 "$1; $SERVICE was started again"
}

# The job got a signal while the service was stopped: the same, from within the job.
interrupted() {
  trap - TERM INT HUP
  [ -z "\${WATCHDOG:-}" ] || kill "$WATCHDOG" 2>/dev/null
  recover "the backup job was interrupted while $SERVICE was stopped"
  release_lock
  exit 1
}

# When the container (re)starts: a stop left behind by a killed container is undone. After a
# restart $STATE/stopped says what to start; a new container (replaced while a job ran) has no
# state, so every container of the service is started (Docker answers 304 for a running one).
# Runs in the background: at boot the proxy may start after this container, so it tries for
# two minutes until every start is answered. It holds the job lock meanwhile, so a backup that
# cron starts in those minutes is refused rather than stopping what this starts.
recover_on_start() {
  select_repo 1
  take_lock || return 0
  if [ -f "$STATE/stopped" ]; then recover "the container stopped while $SERVICE was stopped"; fi
  n=0
  while [ $n -lt 60 ]; do
    pending=""
    for c in $STOP_CONTAINERS; do
      case "$(docker_api POST "containers/$c/start")" in
        204) log "started $c, left stopped by an earlier backup job" ;;
        304) ;;
        *) pending="$pending $c" ;;
      esac
    done
    [ -n "$pending" ] || { release_lock; return 0; }
    n=$((n + 1))
    sleep 2
  done
  release_lock
  log "could not start$pending: the Docker API proxy does not answer"
  heartbeat "$HB_DOWNTIME" false "could not start$pending after the backup container started" 0
  notify "$SERVICE may be down on $SERVER" "could not start$pending after its backup container started"
}

# capture: hook. Runs a declared command in the service's container (an exec the proxy allows
# byte for byte), detached, and polls its exit code until HOOK_TIMEOUT.
run_hook() {
  code=$(docker_api POST "containers/$HOOK_CONTAINER/exec" "$2")
  id=$(sed -n 's/.*"Id" *: *"\\([0-9a-f]\\{64\\}\\)".*/\\1/p' "$STATE/api.out" 2>/dev/null)
  if [ "$code" != 201 ] || [ -z "$id" ]; then
    REASON="hook $1: exec in $HOOK_CONTAINER refused (HTTP \${code:-no answer})"
    return 1
  fi
  code=$(docker_api POST "exec/$id/start" "$EXEC_START")
  case "$code" in 2??) ;; *) REASON="hook $1: exec start refused (HTTP \${code:-no answer})"; return 1 ;; esac
  deadline=$(( $(date +%s) + HOOK_TIMEOUT ))
  while [ "$(date +%s)" -le "$deadline" ]; do
    if [ "$(docker_api GET "exec/$id/json")" = 200 ] && grep -q '"Running" *: *false' "$STATE/api.out"; then
      exit_code=$(sed -n 's/.*"ExitCode" *: *\\([0-9-]*\\).*/\\1/p' "$STATE/api.out")
      [ "$exit_code" = 0 ] && { log "hook $1 done"; return 0; }
      REASON="hook $1 exited with $exit_code"
      return 1
    fi
    sleep 2
  done
  REASON="hook $1 still running after \${HOOK_TIMEOUT}s"
  return 1
}

# The manifest: every file of the repository with its SHA-256, as sha256sum prints it, for
# the hosts that keep a replica without the key. restic names every file but config by the
# SHA-256 of its content (restic doc/design.rst "Repository Format"), so only config is read;
# locks are transient and left out. Written under another name and renamed, so Syncthing never
# sends half a manifest.
write_manifest() {
  (
    cd "$RESTIC_REPOSITORY" || exit 1
    sha256sum config || exit 1
    find data index snapshots keys -type f 2>/dev/null | sort \
      | sed -n 's|^.*/\\([0-9a-f]\\{64\\}\\)$|\\1  &|p'
  ) >"$RESTIC_REPOSITORY/.$MANIFEST.tmp" \
    && mv -f "$RESTIC_REPOSITORY/.$MANIFEST.tmp" "$RESTIC_REPOSITORY/$MANIFEST"
}

# check takes an exclusive lock (restic 0.18 cmd/restic/cmd_check.go: openWithExclusiveLock)
# and fails at once while a backup or prune holds a lock, unless it may wait (--retry-lock, a
# global flag since restic 0.16). A backup with its prune can take a while: wait up to 30m.
# On replicas (--no-lock) no lock is taken and the flag is moot.
run_check() {
  select_repo "$1"
  started=$(date +%s)
  err=$(mktemp)
  REASON=""
  rc=0
  open_repo || rc=1
  if [ $rc -eq 0 ]; then
    restic_ro check --retry-lock 30m --read-data-subset="$CHECK_SUBSET" >/dev/null 2>"$err" \\
      || { rc=1; REASON="restic check failed: $(last_error "$err")"; }
  fi
  rm -f "$err"
  finish check "$HB_CHECK" "$started" "$rc" "$REASON"
}

# Restore drill: restore the latest snapshot into scratch space, verify it, clean up.
run_drill() {
  select_repo "$1"
  started=$(date +%s)
  err=$(mktemp)
  scratch=$(mktemp -d "${BACKUP_PATHS.scratch}/drill.XXXXXX")
  REASON=""
  rc=0
  open_repo || rc=1
  if [ $rc -eq 0 ]; then
    if ! { restic_ro snapshots --host "$ORIGIN" --tag "$SERVICE" --latest 1 --json >"$scratch/.snapshots" 2>"$err" \\
      && grep -q '"id"' "$scratch/.snapshots"; }; then
      rc=1
      REASON="no snapshot of $SERVICE from $ORIGIN: $(last_error "$err")"
    fi
  fi
  if [ $rc -eq 0 ] && [ -n "$VERIFY_FILES$DATABASES" ]; then
    restic_ro restore latest --host "$ORIGIN" --tag "$SERVICE,files" --target "$scratch" >/dev/null 2>"$err" \\
      || { rc=1; REASON="restore failed: $(last_error "$err")"; }
    for f in $VERIFY_FILES; do
      [ $rc -ne 0 ] && break
      [ -e "$scratch${BACKUP_PATHS.data}/$f" ] || { rc=1; REASON="restored snapshot lacks ${BACKUP_PATHS.data}/$f"; }
    done
    # What capture: sqlite promises: each database restored, and sound.
    for db in $DATABASES; do
      [ $rc -ne 0 ] && break
      f="$scratch$SQLITE_DIR/$db"
      if [ ! -s "$f" ]; then
        rc=1; REASON="restored snapshot lacks the copy of $db ($SQLITE_DIR/$db)"
      elif ! ok=$(sqlite3 "$f" "PRAGMA integrity_check" 2>&1) || [ "$ok" != ok ]; then
        rc=1; REASON="restored copy of $db fails integrity_check: $(printf '%s' "$ok" | head -n 3 | tr '\n' ' ')"
      fi
    done
  fi
  if [ $rc -eq 0 ] && [ -n "$DUMP_FILE" ]; then
    if ! { restic_ro dump latest --host "$ORIGIN" --tag "$SERVICE,dump" "/$DUMP_FILE" >"$scratch/dump" 2>"$err" \\
      && [ -s "$scratch/dump" ]; }; then
      rc=1
      REASON="dump $DUMP_FILE missing or empty in the latest snapshot: $(last_error "$err")"
    elif [ -n "$DUMP_COMPLETE" ] && ! tail -c 512 "$scratch/dump" | grep -qF "$DUMP_COMPLETE"; then
      # A dump tool writes its trailer last: without it the dump was cut off.
      rc=1
      REASON="dump $DUMP_FILE is incomplete: it does not end with '$DUMP_COMPLETE'"
    fi
  fi
  rm -rf "$scratch" "$err"
  finish drill "$HB_DRILL" "$started" "$rc" "$REASON"
}

# Keyless verification of a replica (no password on this host): every file the writer's last
# manifest lists must be here with that SHA-256 (nothing vanished or changed since), and every
# other repository file must still hash to its name (restic's storage IDs). Reads every byte.
run_verify() {
  select_repo "$1"
  started=$(date +%s)
  REASON=""
  rc=0
  bad=$(mktemp)
  if [ ! -d "$RESTIC_REPOSITORY" ]; then
    rc=1
    REASON="replica $RESTIC_REPOSITORY missing"
  elif [ ! -s "$RESTIC_REPOSITORY/$MANIFEST" ]; then
    rc=1
    REASON="replica $RESTIC_REPOSITORY has no manifest $MANIFEST: the writer has not published one (no backup since the upgrade?)"
  else
    (cd "$RESTIC_REPOSITORY" && verify_files) >"$bad" 2>&1 || rc=1
    if [ $rc -ne 0 ]; then
      REASON="replica $RESTIC_REPOSITORY: $(grep -c . "$bad") bad file(s): $(head -n 3 "$bad" | tr '\n' ' ' | cut -c1-240)"
    fi
  fi
  rm -f "$bad"
  finish verify "$HB_VERIFY" "$started" "$rc" "$REASON"
}

# In the replica's directory: one line per missing, changed or misnamed file; fails if any.
verify_files() {
  status=0
  listed=0
  while read -r hash path; do
    listed=$((listed + 1))
    case "$path" in
      config | data/[0-9a-f][0-9a-f]/* | index/* | snapshots/* | keys/*) ;;
      *) echo "unexpected manifest entry $path"; status=1; continue ;;
    esac
    if [ ! -f "$path" ]; then
      echo "missing $path"; status=1
    elif [ "$(sha256sum <"$path" | cut -c1-64)" != "$hash" ]; then
      echo "changed $path"; status=1
    fi
  done <"$MANIFEST"
  [ "$listed" -gt 0 ] || { echo "empty manifest"; status=1; }
  # Files the manifest does not list (yet: a newer backup on its way) must match their names.
  extra=$(mktemp)
  find data index snapshots keys -type f 2>/dev/null | sort \
    | awk 'NR == FNR { listed[$2] = 1; next } !($0 in listed)' "$MANIFEST" - >"$extra"
  while read -r path; do
    [ "$(sha256sum <"$path" | cut -c1-64)" = "\${path##*/}" ] || { echo "changed $path"; status=1; }
  done <"$extra"
  rm -f "$extra"
  return $status
}

# PID 1 got TERM: let a running stop capture end its own way, then go.
on_term() {
  kill "$CROND" 2>/dev/null
  if [ "$CAPTURE" = stop ] && [ -f "$STATE/stopped" ]; then
    [ ! -f "$STATE/job.pid" ] || kill -TERM "$(cat "$STATE/job.pid")" 2>/dev/null
    # Docker gives a container 10 s after TERM by default: the job gets 5 of them.
    n=0
    while [ -f "$STATE/stopped" ] && [ $n -lt 5 ]; do sleep 1; n=$((n + 1)); done
    select_repo 1
    recover "the container was stopped while $SERVICE was stopped"
  fi
  exit 0
}

each_repo() {
  job=$1
  n=1
  status=0
  while [ "$n" -le "$REPO_COUNT" ]; do
    "$job" "$n" || status=1
    n=$((n + 1))
  done
  return $status
}

case "\${1:-}" in
  check | drill)
    [ "$MODE" != storage ] || { echo "$SERVER keeps replicas without their keys: only verify runs here" >&2; exit 2; }
    ;;
esac
case "\${1:-}" in
  daemon)
    if [ -n "$PACKAGES" ]; then
      # shellcheck disable=SC2086
      apk add --no-cache $PACKAGES || log "could not install $PACKAGES; captures that need them will fail"
    fi
    # No job runs while the container starts: a lock left by a killed one is stale.
    mkdir -p "$STATE" && release_lock
    [ "$CAPTURE" = stop ] || exec crond -f -l 6
    recover_on_start &
    # A stop capture keeps this shell as PID 1 and crond in the background: a container stop
    # (a replacement, a reboot) reaches a running job, which starts the stopped service first.
    crond -f -l 6 &
    CROND=$!
    trap 'on_term' TERM INT
    while kill -0 "$CROND" 2>/dev/null; do wait "$CROND"; done
    ;;
  backup) run_backup ;;
  check) if [ -n "\${2:-}" ]; then run_check "$2"; else each_repo run_check; fi ;;
  drill) if [ -n "\${2:-}" ]; then run_drill "$2"; else each_repo run_drill; fi ;;
  verify) if [ -n "\${2:-}" ]; then run_verify "$2"; else each_repo run_verify; fi ;;
  # Publish the manifest now (after a manual prune, or before the first backup since the upgrade).
  manifest) [ "$MODE" = writer ] && select_repo 1 && write_manifest ;;
  repos) echo "$REPO_COUNT" ;;
  *) echo "usage: $0 daemon | backup | manifest | check [N] | drill [N] | verify [N] | repos" >&2; exit 2 ;;
esac
`;
}

/** busybox crontab of a backup container: its jobs, output to the container log. */
export function renderCrontab(jobs: { schedule: string; args: string }[]): string {
  const lines = jobs.map(
    (j) => `${j.schedule} /bin/sh ${BACKUP_PATHS.script} ${j.args} >/proc/1/fd/1 2>&1`,
  );
  return `# homelab backup jobs. Generated by homelab; do not edit.\n${lines.join("\n")}\n`;
}

/**
 * The trailer a complete dump ends with, for the dump tools that write one; the drill checks
 * it, so a dump cut off mid-way fails. pg_dump ends a plain dump with "-- PostgreSQL database
 * dump complete" (postgres src/bin/pg_dump/pg_backup_archiver.c, RestoreArchive), pg_dumpall
 * with "-- PostgreSQL database cluster dump complete" (pg_dumpall.c, main); since 17.6 (and
 * 15.14: pg_dump 15.18 here writes it) a `\unrestrict` line may follow, which the 512-byte tail
 * the drill reads covers. Only a plain dump has it: the custom and tar archive formats end in
 * binary data (tried with pg_dump 15.18: `-Fc`, `-Ft`), so those get no trailer check; nor does
 * a command whose output goes through a pipe (`pg_dump … | gzip`) or elsewhere.
 */
export function dumpComplete(command: string): string | undefined {
  if (/[|;&]|(^|[^2])>/.test(command)) return undefined;
  if (/^\s*pg_dumpall(\s|$)/.test(command)) return "PostgreSQL database cluster dump complete";
  if (pgDumpFormat(command) === "plain") return "PostgreSQL database dump complete";
  return undefined;
}

/**
 * The output format a pg_dump command line asks for: `-F x`, `-Fx`, `--format=x` or
 * `--format x`, the last one winning, with pg_dump's names (parseArchiveFormat in
 * src/bin/pg_dump/pg_dump.c, case-insensitive: a/append and p/plain write SQL text, c/custom,
 * d/directory, t/tar archives). Plain by default; undefined for a command that is not pg_dump.
 */
export function pgDumpFormat(
  command: string,
): "plain" | "custom" | "directory" | "tar" | undefined {
  if (!/^\s*pg_dump(\s|$)/.test(command)) return undefined;
  const words = command.trim().split(/\s+/);
  let format = "p";
  words.forEach((w, i) => {
    const value =
      w === "-F" || w === "--format"
        ? words[i + 1]
        : w.startsWith("--format=")
          ? w.slice("--format=".length)
          : /^-F./.test(w)
            ? w.slice(2)
            : undefined;
    if (value) format = value.toLowerCase();
  });
  const name = ({ a: "plain", p: "plain", c: "custom", d: "directory", t: "tar" } as const)[
    format[0] as "a" | "p" | "c" | "d" | "t"
  ];
  return name ?? "plain";
}

/** `KEY='value'` lines for a file sourced by the script (used for dump credentials). */
export function renderEnvFile(env: Record<string, string>): string {
  return Object.keys(env)
    .sort()
    .map((k) => `export ${k}=${q(env[k]!)}\n`)
    .join("");
}

/** The jobs a backup container runs, each with its own heartbeat. */
export const JOBS = ["backup", "check", "drill", "verify", "downtime"] as const;
export type Job = (typeof JOBS)[number];

/** Heartbeat name of one job on one repository. */
function jobName(job: Job, repo: string): string {
  return `${job}-${repo}`;
}

/**
 * Schedules of the jobs on one repository; a job without one does not run there. Writers back
 * up, check and drill; replica hosts with the key check and drill; storage-only hosts verify.
 */
export type JobSchedules = Partial<Record<Job, string>>;

/**
 * Heartbeats of one repository's jobs: `<job>-<service>` in group `<server>-jobs`, or
 * `<job>-<origin>-<service>` in group `<server>-replicas` for the replicas a server keeps.
 * `token` names the container that sends them (each container has its own heartbeat token).
 */
export function jobHeartbeats(
  repo: string,
  s: JobSchedules,
  kind: HeartbeatKind = "jobs",
  token?: string,
): Heartbeat[] {
  return JOBS.flatMap((job) => {
    const schedule = s[job];
    return schedule
      ? [{ name: jobName(job, repo), schedule, kind, ...(token ? { token } : {}) }]
      : [];
  });
}

/** Heartbeat keys for a script's RepoJob. */
export function heartbeatKeys(
  server: string,
  repo: string,
  s: JobSchedules,
  kind: HeartbeatKind = "jobs",
): RepoJob["heartbeats"] {
  return Object.fromEntries(
    JOBS.flatMap((job) => (s[job] ? [[job, heartbeatKey(server, jobName(job, repo), kind)]] : [])),
  );
}
