import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  BACKUP_PATHS,
  ScriptCapture,
  dumpComplete,
  heartbeatKeys,
  renderBackupScript,
  renderCrontab,
  renderEnvFile,
} from "../configs/backup";
import type { ResolvedBackup } from "../lib/model";
import { BACKUP_MOUNT, IMAGES } from "./defaults";
import { homelabContainer, upload, uploadsWithout } from "./docker";

const TYPE = "homelab:index:ResticBackup";

/** The part of a backup container that runs the job script under busybox crond. */
export function resticJobRunner(timezone: string) {
  return {
    image: IMAGES.restic,
    entrypoints: ["/bin/sh", BACKUP_PATHS.script],
    command: ["daemon"],
    env: { TZ: timezone },
  };
}

/** The jobs of a writer's sidecar and their schedules: a `stop` capture reports its downtime too. */
export function writerSchedules(b: ResolvedBackup) {
  return {
    backup: b.schedule,
    check: b.checkSchedule,
    drill: b.drillSchedule,
    ...(b.capture.kind === "stop" ? { downtime: b.schedule } : {}),
  };
}

/** The script's capture for the kinds that need no Docker API. */
function scriptKind(b: ResolvedBackup): "files" | "dump" | "sqlite" {
  const k = b.capture.kind;
  if (k === "files" || k === "dump" || k === "sqlite") return k;
  throw new Error(`capture "${k}" of a backup needs its Docker API proxy`);
}

/** The container name of a service's backup sidecar. */
export function backupSidecarName(service: string): string {
  return `${service}-backup`;
}

/**
 * Where a repository lives in the backup volume (`<origin>/<service>`): one Syncthing folder
 * per writer (`<origin>`), one directory per repository in it.
 */
export function repositoryDir(origin: string, service: string): string {
  return `${origin}/${service}`;
}

/** Where a server's repositories are seen inside the containers that mount them. */
export function repositoryPath(origin: string, service: string): string {
  return `${BACKUP_MOUNT}/${repositoryDir(origin, service)}`;
}

export interface ResticBackupArgs {
  /** Server (stack) name. */
  server: string;
  /** TZ of the container. */
  timezone: string;
  /** Service whose data is backed up. */
  service: string;
  /** Resolved schedule, retention, volumes and dump. */
  backup: ResolvedBackup;
  /** Docker volume names of the service's data volumes, by short name (mounted read-only). */
  volumes: Record<string, pulumi.Input<string>>;
  /** The volume with every restic repository; only this service's directory is mounted. */
  backupVolume: docker.Volume;
  /** Networks: the proxy one (to reach Gatus) and the service group's (to reach a database). */
  networks: pulumi.Input<string>[];
  /** URL of this server's Gatus as reachable from the network. */
  gatusUrl: string;
  /** This sidecar's own token for heartbeats (secret). */
  heartbeatToken: pulumi.Input<string>;
  /** ntfy topic URL and token for failure messages; absent: none. */
  ntfy?: { topicUrl: pulumi.Input<string>; token: pulumi.Input<string> };
  /** Created after these (the job that makes the repository's directory). */
  after?: pulumi.Resource[];
  /** Environment of the dump command (may hold secrets). */
  dumpEnv: Record<string, pulumi.Input<string>>;
  /**
   * `capture: stop` and `hook`: the job's own Docker API proxy (its URL with the API version,
   * and the network only the job and the proxy are on), and what the script sends through it.
   */
  dockerProxy?: { capture: ScriptCapture; network: pulumi.Input<string>; after: pulumi.Resource };
}

/** Alpine packages a capture needs in the sidecar, besides the dump's own. */
export function capturePackages(b: ResolvedBackup): string[] {
  const own = b.capture.kind === "sqlite" ? ["sqlite"] : [];
  return [...new Set([...own, ...(b.dump?.packages ?? [])])].sort();
}

/**
 * The restic sidecar of one service: busybox crond runs the generated script to back up the
 * service's volumes (read-only) and dump, forget/prune, check and drill; each job reports a
 * heartbeat to Gatus and failures to ntfy. The repository sits in the folder Syncthing shares.
 */
export class ResticBackup extends pulumi.ComponentResource {
  /** Repository path inside the backup volume. */
  readonly repository: string;
  /** Generated repository password (secret). */
  readonly password: pulumi.Output<string>;
  /** The generated job script. */
  readonly script: pulumi.Output<string>;

  constructor(name: string, args: ResticBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const b = args.backup;
    this.repository = repositoryPath(args.server, args.service);
    const password = new random.RandomPassword(
      `${name}-password`,
      { length: 40, special: false },
      { parent: this },
    );
    const secrets = BACKUP_PATHS.secrets;
    const dumpEnvFile =
      b.dump && Object.keys(args.dumpEnv).length > 0 ? `${secrets}/dump.env` : undefined;
    const ntfyUrl = pulumi.output(args.ntfy?.topicUrl ?? "");
    this.script = ntfyUrl.apply((topicUrl) =>
      renderBackupScript({
        server: args.server,
        mode: "writer",
        repos: [
          {
            origin: args.server,
            service: args.service,
            repository: this.repository,
            passwordFile: `${secrets}/restic-password`,
            heartbeats: heartbeatKeys(args.server, args.service, writerSchedules(b)),
            verifyFiles: b.verifyFiles,
            databases: b.capture.kind === "sqlite" ? b.capture.databases : [],
            dumpFile: b.dump?.filename,
            dumpComplete: b.dump && dumpComplete(b.dump.command),
          },
        ],
        writer: {
          volumes: b.volumes,
          dump: b.dump && {
            command: b.dump.command,
            filename: b.dump.filename,
            envFile: dumpEnvFile,
          },
          retention: b.retention,
          capture: args.dockerProxy?.capture ?? { kind: scriptKind(b) },
        },
        gatusUrl: args.gatusUrl,
        ntfyUrl: topicUrl,
        checkSubset: "5%",
        packages: capturePackages(b),
      }),
    );
    const crontab = renderCrontab([
      { schedule: b.schedule, args: "backup" },
      { schedule: b.checkSchedule, args: "check" },
      { schedule: b.drillSchedule, args: "drill" },
    ]);
    const ntfyToken = `${secrets}/ntfy-token`;
    const files: pulumi.Input<docker.types.input.ContainerUpload>[] = [
      upload(BACKUP_PATHS.script, this.script, "0555"),
      upload(BACKUP_PATHS.crontab, crontab),
      upload(`${secrets}/restic-password`, password.result, "0400"),
      upload(`${secrets}/heartbeat-token`, pulumi.secret(args.heartbeatToken), "0400"),
    ];
    if (args.ntfy) files.push(upload(ntfyToken, pulumi.secret(args.ntfy.token), "0400"));
    if (dumpEnvFile) {
      const env = pulumi.all(args.dumpEnv).apply((e) => renderEnvFile(e));
      files.push(upload(dumpEnvFile, pulumi.secret(env), "0400"));
    }
    // The ntfy token is "" until the ntfy server is deployed and publishes one for this
    // server: then the file is left out and the script sends no ntfy message.
    const uploads = uploadsWithout(files, [ntfyToken]);
    homelabContainer(
      `${name}-container`,
      {
        name: backupSidecarName(args.service),
        server: args.server,
        role: "backup",
        ...resticJobRunner(args.timezone),
        networks: [...args.networks, ...(args.dockerProxy ? [args.dockerProxy.network] : [])],
        // Its own repository and nothing else: not the other services' repositories, not the
        // replicas of the peers' (which only Syncthing writes).
        volumeParts: [
          {
            volumeName: args.backupVolume.name,
            subpath: repositoryDir(args.server, args.service),
            containerPath: this.repository,
          },
        ],
        volumes: [
          ...b.volumes.map((v) => ({
            volumeName: args.volumes[v]!,
            containerPath: `${BACKUP_PATHS.data}/${v}`,
            readOnly: true,
          })),
        ],
        uploads,
      },
      {
        parent: this,
        dependsOn: [...(args.after ?? []), ...(args.dockerProxy ? [args.dockerProxy.after] : [])],
      },
    );
    this.password = pulumi.secret(password.result);
    this.registerOutputs({
      repository: this.repository,
      password: this.password,
      script: this.script,
    });
  }
}
