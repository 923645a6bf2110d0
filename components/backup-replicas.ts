import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
  BACKUP_PATHS,
  JobSchedules,
  RepoJob,
  heartbeatKeys,
  jobHeartbeats,
  renderBackupScript,
  renderCrontab,
} from "../configs/backup";
import type { Heartbeat } from "../configs/gatus";
import type { Trust } from "../lib/config";
import { BACKUP_MOUNT } from "./defaults";
import { homelabContainer, upload } from "./docker";
import { repositoryPath, resticJobRunner } from "./restic-backup";
import { byText } from "../lib/order";

const TYPE = "homelab:index:BackupReplicas";

/** A peer's repository this server keeps a replica of. */
export interface ReplicaRepo {
  /** Server that writes it. */
  origin: string;
  service: string;
  /** Its restic password, from the origin's secret output; absent on a storage-only host. */
  password?: string;
  verifyFiles: string[];
  /** SQLite databases in its snapshots (`capture: sqlite`), checked by the drill. */
  databases: string[];
  dumpFile?: string;
  dumpComplete?: string;
}

/** The sender name of the replica jobs' heartbeats (their own token). */
export const REPLICAS_CONTAINER = "backup-replicas";

/** The schedules of the replica jobs a host runs: keyed check and drill, or keyless verify. */
export function replicaSchedules(trust: Trust, check: string, drill: string): JobSchedules {
  return trust === "full" ? { check, drill } : { verify: check };
}

/** Heartbeats the replica jobs of these repositories send (for Gatus). */
export function replicaHeartbeats(repos: ReplicaRepo[], schedules: JobSchedules): Heartbeat[] {
  return repos.flatMap((r) =>
    jobHeartbeats(`${r.origin}-${r.service}`, schedules, "replicas", REPLICAS_CONTAINER),
  );
}

export interface BackupReplicasArgs {
  /** Server (stack) name. */
  server: string;
  /** TZ of the container. */
  timezone: string;
  /** Replicated repositories, from stack references (may be empty). */
  repos: pulumi.Input<ReplicaRepo[]>;
  /** Cron of `restic check` (or, without keys, of the keyless verify) and of the restore drill. */
  checkSchedule: string;
  drillSchedule: string;
  /** `full`: the repositories' keys are here (check, drill); `storage`: verify without them. */
  trust: Trust;
  /** Peers whose folders may hold replicas here: each one's folder is mounted read-only. */
  peers: string[];
  /** The backup volume; only the peers' folders, read-only. */
  backupVolume: docker.Volume;
  /** Created after these (the job that makes the mounted directories). */
  after?: pulumi.Resource[];
  /** Network on which Gatus is reachable. */
  networks: pulumi.Input<string>[];
  gatusUrl: string;
  heartbeatToken: pulumi.Input<string>;
  ntfy?: { topicUrl: pulumi.Input<string>; token: pulumi.Input<string> };
}

/**
 * Verifies the replicas this server receives, on read-only mounts of the peers' folders (a
 * replica is never written here), each job reporting a heartbeat with this container's own
 * token. Trusted with the keys (`full`): `restic check` with a data subset and a restore drill
 * of each, with the origin's password. Storage-only: no password ever reaches the container;
 * `verify` checks every file against the writer's manifest and its SHA-256 name.
 */
export class BackupReplicas extends pulumi.ComponentResource {
  /** The generated job script. */
  readonly script: pulumi.Output<string>;

  constructor(name: string, args: BackupReplicasArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const secrets = BACKUP_PATHS.secrets;
    const repos = pulumi
      .output(args.repos)
      .apply((list) =>
        [...list].sort((a, b) => byText(`${a.origin}/${a.service}`, `${b.origin}/${b.service}`)),
      );
    const keyed = args.trust === "full";
    const schedules = replicaSchedules(args.trust, args.checkSchedule, args.drillSchedule);
    this.script = pulumi.all([repos, args.ntfy?.topicUrl ?? ""]).apply(([list, ntfyUrl]) =>
      renderBackupScript({
        server: args.server,
        mode: keyed ? "replica" : "storage",
        repos: list.map((r, i): RepoJob => ({
          origin: r.origin,
          service: r.service,
          repository: repositoryPath(r.origin, r.service),
          passwordFile: keyed ? `${secrets}/repo-${i + 1}-password` : "",
          heartbeats: heartbeatKeys(args.server, `${r.origin}-${r.service}`, schedules, "replicas"),
          verifyFiles: r.verifyFiles,
          databases: keyed ? r.databases : [],
          dumpFile: r.dumpFile,
          dumpComplete: r.dumpComplete,
        })),
        gatusUrl: args.gatusUrl,
        ntfyUrl,
        checkSubset: "5%",
        // The drill of a restored SQLite copy needs the sqlite3 shell.
        packages: keyed && list.some((r) => r.databases.length > 0) ? ["sqlite"] : [],
      }),
    );
    // Only where the keys may be: a storage-only host gets no password file at all.
    const passwordFiles = repos.apply((list) =>
      keyed
        ? list.map((r, i) =>
            upload(`${secrets}/repo-${i + 1}-password`, pulumi.secret(r.password ?? ""), "0400"),
          )
        : [],
    );
    const jobs = keyed
      ? [
          { schedule: args.checkSchedule, args: "check" },
          { schedule: args.drillSchedule, args: "drill" },
        ]
      : [{ schedule: args.checkSchedule, args: "verify" }];
    const uploads = pulumi
      .all([this.script, passwordFiles, args.heartbeatToken, args.ntfy?.token ?? ""])
      .apply(([script, files, hb, nt]) => [
        upload(BACKUP_PATHS.script, script, "0555"),
        upload(BACKUP_PATHS.crontab, renderCrontab(jobs)),
        upload(`${secrets}/heartbeat-token`, hb, "0400"),
        // "" until the ntfy server is deployed and publishes a token for this server: then
        // the file is left out (the provider refuses an upload without content) and the
        // script sends no ntfy message.
        ...(args.ntfy && nt ? [upload(`${secrets}/ntfy-token`, nt, "0400")] : []),
        ...files,
      ]);
    homelabContainer(
      `${name}-container`,
      {
        name: REPLICAS_CONTAINER,
        server: args.server,
        role: "backup-replicas",
        ...resticJobRunner(args.timezone),
        networks: args.networks,
        volumeParts: [...args.peers].sort().map((peer) => ({
          volumeName: args.backupVolume.name,
          subpath: peer,
          containerPath: `${BACKUP_MOUNT}/${peer}`,
          readOnly: true,
        })),
        uploads: pulumi.secret(uploads),
      },
      { parent: this, dependsOn: args.after },
    );
    this.registerOutputs({ script: this.script });
  }
}
