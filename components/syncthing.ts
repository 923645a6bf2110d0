import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { WatchEndpoint } from "../configs/gatus";
import {
  SYNCTHING_PATHS,
  SyncthingDevice,
  SyncthingFolder,
  renderSyncthingConfig,
  syncthingIdentity,
} from "../configs/syncthing";
import { traefikLabels } from "../configs/traefik";
import { BACKUP_MOUNT, IMAGES, SYNCTHING_PORT, SYSTEM_SUBDOMAINS } from "./defaults";
import { homelabContainer, homelabVolume, upload } from "./docker";

const TYPE = "homelab:index:Syncthing";

export interface SyncthingArgs {
  /** Server (stack) name. */
  server: string;
  /** Base domain; the GUI is at sync.<domain>. */
  domain: string;
  /** TZ of the container. */
  timezone: string;
  /** Allow relays. @default false */
  relays: boolean;
  /** Allow global discovery. @default false */
  globalDiscovery: boolean;
  /** Peer devices (from stack references). */
  devices: pulumi.Input<SyncthingDevice[]>;
  /** Folders: this server's repositories (send-only) and the replicas it keeps (receive-only). */
  folders: pulumi.Input<SyncthingFolder[]>;
  /**
   * The volume holding every restic repository: this server's folder is mounted read-only
   * (it only sends it), each peer's folder read-write (it receives the replicas).
   */
  backupVolume: docker.Volume;
  /** Peers whose folders may be received here. */
  peers: string[];
  /** Created after these (the job that makes the mounted directories). */
  after?: pulumi.Resource[];
  /** Network Traefik routes on (GUI). */
  proxyNetwork: docker.Network;
  /** The fleet has single sign-on: the GUI goes through it too. */
  sso?: boolean;
  /** Host addresses the sync port binds to; none: every interface. @default [] */
  bindAddresses?: readonly string[];
}

/**
 * Syncthing, replicating restic repositories between servers. Its identity (certificate and
 * device ID) derives from a seed kept in Pulumi state, so peers know the ID before it ever
 * starts; every device and folder is declared in config.xml, nothing is accepted by hand.
 */
export class Syncthing extends pulumi.ComponentResource {
  /** Device ID, published to peers. */
  readonly deviceId: pulumi.Output<string>;
  /** GUI URL. */
  readonly guiUrl: string;
  /** GUI password of user `admin` (secret). */
  readonly guiPassword: pulumi.Output<string>;
  /** Gatus watches the unauthenticated health endpoint. */
  readonly endpoint: WatchEndpoint;

  constructor(name: string, args: SyncthingArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const host = `${SYSTEM_SUBDOMAINS.syncthing}.${args.domain}`;
    const seed = new random.RandomBytes(`${name}-identity-seed`, { length: 32 }, { parent: this });
    const gui = new random.RandomPassword(
      `${name}-gui-password`,
      { length: 32, special: false },
      { parent: this },
    );
    const apiKey = new random.RandomPassword(
      `${name}-api-key`,
      { length: 32, special: false },
      { parent: this },
    );
    const identity = seed.base64.apply((s) => syncthingIdentity(s));
    const index = homelabVolume(`${name}-index`, "syncthing-index", args.server, "cache", {
      parent: this,
    });
    const configXml = pulumi
      .all([identity, args.devices, args.folders, gui.bcryptHash, apiKey.result])
      .apply(([id, devices, folders, hash, key]) =>
        renderSyncthingConfig({
          self: { name: args.server, deviceId: id.deviceId },
          devices,
          folders,
          relays: args.relays,
          globalDiscovery: args.globalDiscovery,
          gui: { user: "admin", passwordBcrypt: hash, apiKey: key },
        }),
      );
    homelabContainer(
      `${name}-container`,
      {
        name: "syncthing",
        server: args.server,
        role: "syncthing",
        image: IMAGES.syncthing,
        // Root, so it can read and write the repositories the root-run restic jobs create.
        // The image sets STHOMEDIR=/var/syncthing/config, and Syncthing refuses to start when
        // --home and --config/--data are both given ("--home must not be used together with
        // --config and --data"): cleared, so the flags below decide (found by test/e2e).
        env: { PGID: "0", PUID: "0", STHOMEDIR: "", STNOUPGRADE: "1", TZ: args.timezone },
        command: [
          "serve",
          "--no-browser",
          "--no-restart",
          `--config=${SYNCTHING_PATHS.config}`,
          `--data=${SYNCTHING_PATHS.data}`,
          "--gui-address=0.0.0.0:8384",
        ],
        // With single sign-on the GUI also goes through it (on top of its own login); the health
        // path the peers' Gatus check stays open.
        labels: traefikLabels({
          name: "syncthing",
          host,
          port: 8384,
          admin: !!args.sso,
          openPaths: ["/rest/noauth/health"],
        }),
        networks: [args.proxyNetwork.name],
        ports: [
          { internal: SYNCTHING_PORT, external: SYNCTHING_PORT, protocol: "tcp" },
          { internal: SYNCTHING_PORT, external: SYNCTHING_PORT, protocol: "udp" },
        ],
        bindAddresses: args.bindAddresses,
        volumes: [{ volumeName: index.name, containerPath: SYNCTHING_PATHS.data }],
        // A send-only folder is only read: its pull only records metadata in the database, no
        // changes on disk (syncthing v1.29.5 lib/model/folder_sendonly.go:39-40), and its
        // marker .stfolder is made by the backup layout job; Syncthing only checks that it
        // exists and never rewrites one that does (lib/config/folderconfiguration.go:155-158,
        // 211-240; lib/model/model.go:381). The replicas it receives are its to write: nothing
        // else mounts them read-write.
        volumeParts: [
          {
            volumeName: args.backupVolume.name,
            subpath: args.server,
            containerPath: `${BACKUP_MOUNT}/${args.server}`,
            readOnly: true,
          },
          ...[...args.peers].sort().map((peer) => ({
            volumeName: args.backupVolume.name,
            subpath: peer,
            containerPath: `${BACKUP_MOUNT}/${peer}`,
          })),
        ],
        uploads: [
          upload(`${SYNCTHING_PATHS.config}/config.xml`, pulumi.secret(configXml), "0600"),
          upload(
            `${SYNCTHING_PATHS.config}/cert.pem`,
            identity.apply((i) => i.certPem),
            "0644",
          ),
          upload(
            `${SYNCTHING_PATHS.config}/key.pem`,
            pulumi.secret(identity.apply((i) => i.keyPem)),
            "0600",
          ),
        ],
      },
      { parent: this, dependsOn: args.after },
    );
    // The ID is derived from the secret seed but is public by nature: peers must read it.
    this.deviceId = pulumi.unsecret(identity.apply((i) => i.deviceId));
    this.guiUrl = `https://${host}`;
    this.guiPassword = pulumi.secret(gui.result);
    this.endpoint = {
      name: "syncthing",
      url: `https://${host}/rest/noauth/health`,
      // /rest/noauth/health answers {"status": "OK"} (syncthing v1.29.5 lib/api/api.go:266,
      // 1641-1642); Gatus compares the right-hand side as written, so `OK` without quotes
      // (TwiN/gatus v5.25.2 config/endpoint/condition.go:41-43, 164).
      conditions: ["[STATUS] == 200", "[BODY].status == OK"],
    };
    this.registerOutputs({
      deviceId: this.deviceId,
      guiUrl: this.guiUrl,
      guiPassword: this.guiPassword,
      endpoint: this.endpoint,
    });
  }
}
