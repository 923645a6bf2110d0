import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import {
  BACKUP_PATHS,
  RepoJob,
  heartbeatKeys,
  jobHeartbeats,
  renderBackupScript,
  renderCrontab,
} from "../configs/backup";
import type { Heartbeat } from "../configs/gatus";
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
  /** Its restic password, from the origin's secret output. */
  password: string;
  verifyFiles: string[];
  dumpFile?: string;
}

/** Heartbeats the replica jobs of these repositories send (for Gatus). */
export function replicaHeartbeats(repos: ReplicaRepo[], check: string, drill: string): Heartbeat[] {
  return repos.flatMap((r) =>
    jobHeartbeats(`${r.origin}-${r.service}`, { check, drill }, "replicas"),
  );
}

export interface BackupReplicasArgs {
  /** Server (stack) name. */
  server: string;
  /** TZ of the container. */
  timezone: string;
  /** Replicated repositories, from stack references (may be empty). */
  repos: pulumi.Input<ReplicaRepo[]>;
  /** Cron of `restic check` and of the restore drill. */
  checkSchedule: string;
  drillSchedule: string;
  /** The backup volume; mounted read-only here. */
  backupVolume: docker.Volume;
  /** Network on which Gatus is reachable. */
  networks: pulumi.Input<string>[];
  gatusUrl: string;
  heartbeatToken: pulumi.Input<string>;
  ntfy?: { topicUrl: pulumi.Input<string>; token: pulumi.Input<string> };
}

/**
 * Verifies the replicas this server receives: `restic check` with a data subset and a restore
 * drill of each, with the origin's password, on a read-only mount (so a replica is never
 * written here), each job reporting a heartbeat.
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
    const schedules = { check: args.checkSchedule, drill: args.drillSchedule };
    this.script = pulumi.all([repos, args.ntfy?.topicUrl ?? ""]).apply(([list, ntfyUrl]) =>
      renderBackupScript({
        server: args.server,
        mode: "replica",
        repos: list.map((r, i): RepoJob => ({
          origin: r.origin,
          service: r.service,
          repository: repositoryPath(r.origin, r.service),
          passwordFile: `${secrets}/repo-${i + 1}-password`,
          heartbeats: heartbeatKeys(args.server, `${r.origin}-${r.service}`, schedules, "replicas"),
          verifyFiles: r.verifyFiles,
          dumpFile: r.dumpFile,
        })),
        gatusUrl: args.gatusUrl,
        ntfyUrl,
        checkSubset: "5%",
        packages: [],
      }),
    );
    const passwordFiles = repos.apply((list) =>
      list.map((r, i) =>
        upload(`${secrets}/repo-${i + 1}-password`, pulumi.secret(r.password), "0400"),
      ),
    );
    const uploads = pulumi
      .all([this.script, passwordFiles, args.heartbeatToken, args.ntfy?.token ?? ""])
      .apply(([script, files, hb, nt]) => [
        upload(BACKUP_PATHS.script, script, "0555"),
        upload(
          BACKUP_PATHS.crontab,
          renderCrontab([
            { schedule: args.checkSchedule, args: "check" },
            { schedule: args.drillSchedule, args: "drill" },
          ]),
        ),
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
        name: "backup-replicas",
        server: args.server,
        role: "backup-replicas",
        ...resticJobRunner(args.timezone),
        networks: args.networks,
        volumes: [
          { volumeName: args.backupVolume.name, containerPath: BACKUP_MOUNT, readOnly: true },
        ],
        uploads: pulumi.secret(uploads),
      },
      { parent: this },
    );
    this.registerOutputs({ script: this.script });
  }
}
