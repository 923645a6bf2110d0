import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { shellQuote } from "../configs/shell";
import { IMAGES } from "./defaults";
import { homelabContainer } from "./docker";

const TYPE = "homelab:index:BackupLayout";

/** Where the backup volume is mounted in the layout job. */
const LAYOUT_MOUNT = "/volume";

export interface BackupLayoutArgs {
  /** Server (stack) name. */
  server: string;
  /** The volume holding every restic repository and replica. */
  backupVolume: docker.Volume;
  /** Directories to create, relative to the volume's root (`home/vaultwarden`, `cloud`). */
  directories: string[];
}

/** The shell command that creates `directories` under `root`, sorted, nothing else. */
export function layoutCommand(root: string, directories: string[]): string {
  const dirs = [...new Set(directories)].sort().map((d) => shellQuote(`${root}/${d}`));
  return `mkdir -p ${dirs.join(" ")}`;
}

/**
 * The directories of the backup volume that sidecars and Syncthing mount one by one (Docker
 * `subpath` mounts need them to exist): a one-shot job, the only container that mounts the
 * whole volume. It runs again whenever the list changes (a new service, a new peer).
 */
export class BackupLayout extends pulumi.ComponentResource {
  /** The job's container: containers that mount a directory depend on it. */
  readonly job: docker.Container;

  constructor(name: string, args: BackupLayoutArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    this.job = homelabContainer(
      `${name}-container`,
      {
        name: "backup-layout",
        server: args.server,
        role: "backup-layout",
        image: IMAGES.restic,
        entrypoints: ["/bin/sh", "-c"],
        command: [layoutCommand(LAYOUT_MOUNT, args.directories)],
        volumes: [{ volumeName: args.backupVolume.name, containerPath: LAYOUT_MOUNT }],
        oneShot: true,
      },
      { parent: this },
    );
    this.registerOutputs({ job: this.job });
  }
}
