/**
 * Cross-server wiring: what every stack publishes for its peers, and how a stack reads its
 * peers' outputs through `pulumi.StackReference`. A peer that is not deployed yet, or lacks an
 * output, is a warning and an empty value, never a crash: first deployments must work.
 */
import * as pulumi from "@pulumi/pulumi";
import { WatchEndpoint, endpointProblem } from "../configs/gatus";
import type { CatalogueEntry } from "../configs/homepage";
import { isDeviceId } from "../configs/syncthing";
import type { StackConfig, Trust } from "./config";
import type { Retention } from "./model";
import { warn } from "./warnings";

/** Published as `syncthing`. */
export interface PublishedSyncthing {
  deviceId: string;
  address: string;
  /** The folder with this server's repositories and the peers that keep replicas of it. */
  folder: { id: string; replicas: string[] };
  /**
   * What this server holds of the replicas it keeps: their keys too (`full`), or ciphertext
   * only (`storage`). Absent from servers deployed before trust levels: they held keys.
   */
  trust?: Trust;
}

/** One entry of the `backups` output. */
export interface PublishedBackup {
  service: string;
  repository: string;
  schedule: string;
  retention: Retention;
  verifyFiles: string[];
  /** How the data is captured (lib/model.ts CaptureKind); absent from older servers. */
  capture?: string;
  /** `capture: sqlite`: the databases, as `<volume>/<path>`. */
  databases?: string[];
  dumpFile?: string;
  dumpComplete?: string;
}

/** Published as `ntfy` by the server that hosts it. */
export interface PublishedNtfy {
  url: string;
  topicPrefix: string;
}

/** Published as `sso` by the server that runs the single sign-on (Authelia). */
export interface PublishedSso {
  /** The portal: `https://auth.<domain>`. */
  url: string;
  /** Where peers' Traefik send forward-auth requests (the SSO server's authz entry point). */
  forwardAuth: string;
  /** The session cookie's domain; every protected host must be under it. */
  cookieDomain: string;
}

/** The stack outputs peers read, by output name. */
export const PEER_OUTPUTS = {
  endpoints: "endpoints",
  syncthing: "syncthing",
  backups: "backups",
  backupPasswords: "backupPasswords",
  ntfy: "ntfy",
  ntfyPublishTokens: "ntfyPublishTokens",
  sso: "sso",
  ssoRoutes: "ssoRoutes",
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
  sso: pulumi.Output<PublishedSso | undefined>;
  /** Routes of the peer open to groups besides the admins (a service's `http.groups`). */
  ssoRoutes: pulumi.Output<unknown>;
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
      check: (v: unknown) => boolean | string | undefined,
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
        const verdict = check(v);
        if (verdict === false || typeof verdict === "string") {
          const why = typeof verdict === "string" ? `: ${verdict}` : "";
          warn(
            `peer "${name}" output "${output}" has an unexpected shape${why}; ignored. Update and redeploy ${name}.`,
          );
          return fallback;
        }
        return v as T;
      });
    const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
    return {
      name,
      endpoints: read<unknown[]>(PEER_OUTPUTS.endpoints, [], Array.isArray).apply((list) =>
        validEndpoints(name, list),
      ),
      syncthing: read<PublishedSyncthing | undefined>(
        PEER_OUTPUTS.syncthing,
        undefined,
        syncthingProblem,
      ),
      backups: read<PublishedBackup[]>(PEER_OUTPUTS.backups, [], Array.isArray),
      // A storage-only server never asks for its peers' keys: nothing it builds can hold one.
      backupPasswords:
        cfg.trust === "storage"
          ? pulumi.secret<Record<string, string>>({})
          : read<Record<string, string>>(PEER_OUTPUTS.backupPasswords, {}, isObject),
      ntfy: optional<PublishedNtfy>(ref, PEER_OUTPUTS.ntfy),
      ntfyPublishTokens: optional<Record<string, string>>(
        ref,
        PEER_OUTPUTS.ntfyPublishTokens,
      ).apply((t) => t ?? {}),
      sso: optional<PublishedSso>(ref, PEER_OUTPUTS.sso),
      // Checked where it is used (lib/wiring.ts ssoGroupRoutes): it comes from another stack.
      ssoRoutes: ref.getOutput(PEER_OUTPUTS.ssoRoutes),
      catalogue:
        cfg.homepageServer === cfg.stack
          ? read<CatalogueEntry[] | undefined>(PEER_OUTPUTS.catalogue, undefined, Array.isArray)
          : pulumi.output([]),
    };
  });
}

/**
 * The endpoints of a peer that have the shape this program publishes; each other one is left
 * out with a warning naming it. A peer's outputs come from another machine's state: whoever
 * controls that stack must not get text into this server's Gatus config.
 */
export function validEndpoints(peer: string, list: unknown[]): WatchEndpoint[] {
  return list.flatMap((e, i) => {
    const problem = endpointProblem(e);
    if (!problem) return [e as WatchEndpoint];
    warn(
      `peer "${peer}" output "endpoints"[${i}] is not watched: ${problem}. Update and redeploy ${peer}.`,
    );
    return [];
  });
}

/**
 * What is wrong with a peer's `syncthing` output, or undefined: its device ID must be one in
 * Syncthing's canonical form, its address one like the `syncthingAddress` key takes, its folder
 * `backups-<stack>` and the replicas stack names, since all of it goes into config.xml.
 */
export function syncthingProblem(v: unknown): string | undefined {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "not an object";
  const s = v as Record<string, unknown>;
  const folder = (s.folder ?? {}) as Record<string, unknown>;
  if (typeof s.deviceId !== "string" || !isDeviceId(s.deviceId))
    return `deviceId ${JSON.stringify(s.deviceId)} is not a Syncthing device ID`;
  if (
    typeof s.address !== "string" ||
    !/^(tcp|quic):\/\/[A-Za-z0-9.:[\]-]+:\d{1,5}$/.test(s.address)
  )
    return `address ${JSON.stringify(s.address)} is not tcp://<host>:<port> or quic://<host>:<port>`;
  if (typeof folder.id !== "string" || !/^backups-[a-z0-9-]{1,63}$/.test(folder.id))
    return `folder.id ${JSON.stringify(folder.id)} is not backups-<stack>`;
  const replicas = folder.replicas;
  if (
    !Array.isArray(replicas) ||
    !replicas.every((r) => typeof r === "string" && /^[a-z0-9-]{1,63}$/.test(r))
  )
    return "folder.replicas is not a list of stack names";
  return undefined;
}

/** Outputs only the ntfy or SSO host has: absent is normal, not a warning. */
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
    sso: pulumi.output(undefined),
    ssoRoutes: pulumi.output([]),
    catalogue: pulumi.output(undefined),
  };
}
