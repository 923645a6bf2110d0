/**
 * Cross-server wiring: what every stack publishes for its peers, and how a stack reads its
 * peers' outputs through `pulumi.StackReference`. A peer that is not deployed yet, or lacks an
 * output, is a warning and an empty value, never a crash: first deployments must work.
 */
import * as pulumi from "@pulumi/pulumi";
import type { WatchEndpoint } from "../configs/gatus";
import type { CatalogueEntry } from "../configs/homepage";
import type { StackConfig } from "./config";
import type { Retention } from "./model";
import { warn } from "./warnings";

/** Published as `syncthing`. */
export interface PublishedSyncthing {
  deviceId: string;
  address: string;
  /** The folder with this server's repositories and the peers that keep replicas of it. */
  folder: { id: string; replicas: string[] };
}

/** One entry of the `backups` output. */
export interface PublishedBackup {
  service: string;
  repository: string;
  schedule: string;
  retention: Retention;
  verifyFiles: string[];
  dumpFile?: string;
}

/** Published as `ntfy` by the server that hosts it. */
export interface PublishedNtfy {
  url: string;
  topicPrefix: string;
}

/** The stack outputs peers read, by output name. */
export const PEER_OUTPUTS = {
  endpoints: "endpoints",
  syncthing: "syncthing",
  backups: "backups",
  backupPasswords: "backupPasswords",
  ntfy: "ntfy",
  ntfyPublishTokens: "ntfyPublishTokens",
  catalogue: "catalogue",
} as const;

/** A peer as this stack sees it; every field resolves, to an empty value if the peer lacks it. */
export interface PeerView {
  name: string;
  endpoints: pulumi.Output<WatchEndpoint[]>;
  syncthing: pulumi.Output<PublishedSyncthing | undefined>;
  backups: pulumi.Output<PublishedBackup[]>;
  /** Secret. */
  backupPasswords: pulumi.Output<Record<string, string>>;
  ntfy: pulumi.Output<PublishedNtfy | undefined>;
  /** Secret. */
  ntfyPublishTokens: pulumi.Output<Record<string, string>>;
  /**
   * What the peer runs, for the homepage; `undefined` when it publishes none (not deployed yet,
   * or deployed by an older version). Read only by the homepage's server: `[]` elsewhere.
   */
  catalogue: pulumi.Output<CatalogueEntry[] | undefined>;
}

/** Fully qualified name of a peer stack: `<org>/<project>/<stack>`. */
export function peerStackName(org: string, project: string, stack: string): string {
  return `${org}/${project}/${stack}`;
}

/** One StackReference per deployed peer; pending peers resolve to empty values with a warning. */
export function connectPeers(cfg: StackConfig, project: string): PeerView[] {
  return cfg.peers.map((name) => {
    if (cfg.pendingPeers.includes(name)) {
      warn(
        `peer "${name}" is listed in pendingPeers: nothing is read from it. After its first ` +
          `\`pulumi up --stack ${name}\`, remove it from pendingPeers and run \`pulumi up --stack ${cfg.stack}\` again.`,
      );
      return emptyPeer(name);
    }
    const ref = new pulumi.StackReference(`peer-${name}`, {
      // The peers live in this stack's organization unless the config names another: what the
      // CLI passes as --organization (Pulumi Cloud: the stack's org; a self-managed backend:
      // always "organization", github:pulumi/pulumi pkg/backend/diy/state.go).
      name: peerStackName(cfg.org || pulumi.getOrganization(), project, name),
    });
    // Only the names, to tell "never deployed" from "deployed by an older version".
    const names = pulumi.unsecret(ref.outputs).apply((o) => Object.keys(o ?? {}));
    const read = <T>(
      output: string,
      fallback: T,
      check: (v: unknown) => boolean,
    ): pulumi.Output<T> =>
      pulumi.all([names, ref.getOutput(output)]).apply(([present, v]: [string[], unknown]) => {
        if (present.length === 0) {
          warn(
            `peer "${name}" has no outputs: it is not deployed yet. Deploy it (\`pulumi up --stack ${name}\`), ` +
              `then run \`pulumi up --stack ${cfg.stack}\` again; until then nothing of it is watched or replicated.`,
          );
          return fallback;
        }
        if (v === undefined || v === null) {
          warn(
            `peer "${name}" has no output "${output}" (deployed by an older version?); run \`pulumi up --stack ${name}\`.`,
          );
          return fallback;
        }
        if (!check(v)) {
          warn(
            `peer "${name}" output "${output}" has an unexpected shape; ignored. Update and redeploy ${name}.`,
          );
          return fallback;
        }
        return v as T;
      });
    const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
    return {
      name,
      endpoints: read<WatchEndpoint[]>(PEER_OUTPUTS.endpoints, [], Array.isArray),
      syncthing: read<PublishedSyncthing | undefined>(PEER_OUTPUTS.syncthing, undefined, isObject),
      backups: read<PublishedBackup[]>(PEER_OUTPUTS.backups, [], Array.isArray),
      backupPasswords: read<Record<string, string>>(PEER_OUTPUTS.backupPasswords, {}, isObject),
      ntfy: optional<PublishedNtfy>(ref, PEER_OUTPUTS.ntfy),
      ntfyPublishTokens: optional<Record<string, string>>(
        ref,
        PEER_OUTPUTS.ntfyPublishTokens,
      ).apply((t) => t ?? {}),
      catalogue:
        cfg.homepageServer === cfg.stack
          ? read<CatalogueEntry[] | undefined>(PEER_OUTPUTS.catalogue, undefined, Array.isArray)
          : pulumi.output([]),
    };
  });
}

/** Outputs only the ntfy host has: absent is normal, not a warning. */
function optional<T extends object>(
  ref: pulumi.StackReference,
  output: string,
): pulumi.Output<T | undefined> {
  return ref
    .getOutput(output)
    .apply((v: unknown) => (typeof v === "object" && v !== null ? (v as T) : undefined));
}

function emptyPeer(name: string): PeerView {
  return {
    name,
    endpoints: pulumi.output([]),
    syncthing: pulumi.output(undefined),
    backups: pulumi.output([]),
    backupPasswords: pulumi.secret<Record<string, string>>({}),
    ntfy: pulumi.output(undefined),
    ntfyPublishTokens: pulumi.secret<Record<string, string>>({}),
    catalogue: pulumi.output(undefined),
  };
}
