import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { jobHeartbeats } from "../configs/backup";
import { Heartbeat, WatchEndpoint, serviceEndpoints } from "../configs/gatus";
import { alertTopic } from "../configs/ntfy";
import type { SyncthingDevice, SyncthingFolder } from "../configs/syncthing";
import type { StackConfig } from "../lib/config";
import type { ResolvedService } from "../lib/model";
import type { PeerView, PublishedBackup, PublishedNtfy, PublishedSyncthing } from "../lib/peers";
import { warn } from "../lib/warnings";
import { ReplicaRepo, BackupReplicas, replicaHeartbeats } from "./backup-replicas";
import {
  BACKUP_MOUNT,
  BACKUP_VOLUME,
  NETWORKS,
  REPLICA_VERSIONS_MAX_AGE_DAYS,
  SYNCTHING_PORT,
} from "./defaults";
import { homelabVolume } from "./docker";
import { Gatus } from "./gatus";
import { Ntfy } from "./ntfy";
import { BackupContext, Service } from "./service";
import { Syncthing } from "./syncthing";
import { Traefik } from "./traefik";
import { Watchtower } from "./watchtower";
import { byText } from "../lib/order";

const TYPE = "homelab:index:Server";

export interface ServerArgs {
  /** The parsed stack config. */
  config: StackConfig;
  /** Local services after the three layers are merged. */
  services: ResolvedService[];
  /** Names of the generated secrets the services refer to. */
  secretNames: string[];
  /** The server's role, for the summary. */
  role: string;
  /** Peers, read from stack references. */
  peers: PeerView[];
  /** Secrets the user supplies in stack config. */
  userSecrets: { acmeDnsToken?: pulumi.Output<string>; smtpPassword?: pulumi.Output<string> };
}

/** Where this server sends alerts: ntfy base URL, topic and its publish token. */
interface AlertRoute {
  url: pulumi.Output<string>;
  topic: pulumi.Output<string>;
  token: pulumi.Output<string>;
}

/**
 * One server: networks, the standard four (Traefik, Gatus, Syncthing, Watchtower), ntfy where
 * it is hosted, every declared service with its backup, and the replicas of peers' backups.
 * Its public fields are the stack outputs peers read.
 */
export class Server extends pulumi.ComponentResource {
  readonly endpoints: WatchEndpoint[];
  readonly syncthing: pulumi.Output<PublishedSyncthing>;
  readonly backups: PublishedBackup[];
  readonly backupPasswords: pulumi.Output<Record<string, string>>;
  readonly ntfy?: PublishedNtfy;
  readonly ntfyPublishTokens?: pulumi.Output<Record<string, string>>;
  readonly summary: pulumi.Output<unknown>;

  constructor(name: string, args: ServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const cfg = args.config;
    const ctx = { server: cfg.stack, domain: cfg.domain, timezone: cfg.timezone };
    const networks = this.networks(name, args.services);
    const backupVolume = homelabVolume(`${name}-backups`, BACKUP_VOLUME, cfg.stack, "data", {
      parent: this,
    });
    const secrets = this.generatedSecrets(name, args.secretNames);

    const ntfy =
      cfg.ntfy.server === cfg.stack
        ? new Ntfy(
            `${name}-ntfy`,
            {
              ...ctx,
              publishers: [cfg.stack, ...cfg.peers],
              topicPrefix: cfg.ntfy.topicPrefix,
              access: cfg.ntfy.access,
              proxyNetwork: networks.proxy,
            },
            { parent: this },
          )
        : undefined;
    const alerts = this.alertRoute(cfg, args.peers, ntfy);

    const traefik = new Traefik(
      `${name}-traefik`,
      {
        ...ctx,
        acme: cfg.acme,
        dnsToken:
          cfg.acme.challenge === "dns" && args.userSecrets.acmeDnsToken
            ? { env: cfg.acme.tokenEnv, value: args.userSecrets.acmeDnsToken }
            : undefined,
        networks: { proxy: networks.proxy, socket: networks.socket },
      },
      { parent: this },
    );

    const replicaRepos = this.replicaRepos(cfg, args.peers);
    const heartbeats = replicaRepos.apply((repos): Heartbeat[] => [
      ...args.services.flatMap((s) =>
        s.backup
          ? jobHeartbeats(s.name, {
              backup: s.backup.schedule,
              check: s.backup.checkSchedule,
              drill: s.backup.drillSchedule,
            })
          : [],
      ),
      ...replicaHeartbeats(repos, cfg.backup.checkSchedule, cfg.backup.drillSchedule),
    ]);
    const syncthing = this.syncthingNode(name, args, ctx, backupVolume, networks.proxy);
    const localEndpoints = args.services.flatMap((s) => serviceEndpoints(s, cfg.domain));
    const componentEndpoints = [
      traefik.endpoint,
      syncthing.endpoint,
      ...(ntfy ? [ntfy.endpoint] : []),
    ];

    const gatus = new Gatus(
      `${name}-gatus`,
      {
        ...ctx,
        config: {
          server: cfg.stack,
          local: [...componentEndpoints, ...localEndpoints],
          peers: pulumi.all(Object.fromEntries(args.peers.map((p) => [p.name, p.endpoints]))),
          heartbeats,
          ntfy: alerts
            ? pulumi
                .all([alerts.url, alerts.topic])
                .apply(([url, topic]) => (url ? { url, topic } : undefined))
            : undefined,
          fallback: cfg.fallbackAlert,
          ntfyServer: cfg.ntfy.server,
          private: !cfg.gatusPublic,
        },
        ntfyToken: alerts?.token,
        smtpPassword:
          cfg.fallbackAlert?.kind === "email" ? args.userSecrets.smtpPassword : undefined,
        proxyNetwork: networks.proxy,
      },
      { parent: this },
    );

    const backupCtx: BackupContext = {
      backupVolume,
      gatusUrl: "http://gatus:8080",
      heartbeatToken: gatus.heartbeatToken,
      ntfy: alerts && {
        topicUrl: pulumi
          .all([alerts.url, alerts.topic])
          .apply(([url, topic]) => (url ? `${url}/${topic}` : "")),
        token: alerts.token,
      },
    };
    const services = this.services(name, args, ctx, networks, secrets, backupCtx);
    new Watchtower(
      `${name}-watchtower`,
      {
        server: cfg.stack,
        timezone: cfg.timezone,
        schedule: cfg.watchtowerSchedule,
        ntfy: alerts && {
          url: alerts.url,
          topic: `${cfg.ntfy.topicPrefix}-${cfg.stack}`,
          token: alerts.token,
        },
      },
      { parent: this },
    );
    if (cfg.peers.length > 0) {
      new BackupReplicas(
        `${name}-backup-replicas`,
        {
          server: cfg.stack,
          timezone: cfg.timezone,
          repos: replicaRepos,
          checkSchedule: cfg.backup.checkSchedule,
          drillSchedule: cfg.backup.drillSchedule,
          backupVolume,
          networks: [networks.proxy.name],
          gatusUrl: backupCtx.gatusUrl,
          heartbeatToken: gatus.heartbeatToken,
          ntfy: backupCtx.ntfy,
        },
        { parent: this, dependsOn: [gatus] },
      );
    }

    this.endpoints = [gatus.endpoint, ...componentEndpoints, ...localEndpoints].sort((a, b) =>
      byText(a.name, b.name),
    );
    this.syncthing = syncthing.deviceId.apply((deviceId) => ({
      deviceId,
      address: cfg.syncthing.address || `tcp://${cfg.host}:${SYNCTHING_PORT}`,
      folder: { id: `backups-${cfg.stack}`, replicas: [...cfg.backup.replicateTo].sort() },
    }));
    this.backups = services.flatMap((s) =>
      s.backup && s.spec.backup
        ? [
            {
              service: s.spec.name,
              repository: s.backup.repository,
              schedule: s.spec.backup.schedule,
              retention: s.spec.backup.retention,
              verifyFiles: s.spec.backup.verifyFiles,
              ...(s.spec.backup.dump ? { dumpFile: s.spec.backup.dump.filename } : {}),
            },
          ]
        : [],
    );
    this.backupPasswords = pulumi.secret(
      pulumi.all(
        Object.fromEntries(
          services.flatMap((s) => (s.backup ? [[s.spec.name, s.backup.password]] : [])),
        ),
      ),
    );
    this.ntfy = ntfy && { url: ntfy.url, topicPrefix: cfg.ntfy.topicPrefix };
    this.ntfyPublishTokens = ntfy?.publishTokens;
    this.summary = pulumi.output({
      server: cfg.stack,
      role: args.role,
      status: gatus.url,
      dashboards: { traefik: traefik.dashboardUrl, syncthing: syncthing.guiUrl },
      services: Object.fromEntries(
        services.map((s) => [
          s.spec.name,
          s.url ??
            (s.spec.ports.length
              ? `ports ${s.spec.ports.map((p) => p.hostPort).join(", ")}`
              : "internal"),
        ]),
      ),
      ...(ntfy ? { ntfy: ntfy.url } : {}),
      credentials: "pulumi stack output --show-secrets credentials",
    });
    this.credentials = pulumi.secret(
      pulumi.output({
        traefik: pulumi.interpolate`admin / ${traefik.dashboardPassword}`,
        gatus: pulumi.interpolate`admin / ${gatus.password}`,
        syncthing: pulumi.interpolate`admin / ${syncthing.guiPassword}`,
        ...(ntfy ? { ntfy: ntfy.passwords } : {}),
      }),
    );
    this.registerOutputs({
      endpoints: this.endpoints,
      syncthing: this.syncthing,
      backups: this.backups,
      backupPasswords: this.backupPasswords,
      ntfy: this.ntfy,
      ntfyPublishTokens: this.ntfyPublishTokens,
      summary: this.summary,
      credentials: this.credentials,
    });
  }

  /** Logins of the admin UIs (secret). */
  readonly credentials: pulumi.Output<unknown>;

  private networks(name: string, services: ResolvedService[]) {
    const net = (logical: string, physical: string, internal: boolean) =>
      new docker.Network(
        logical,
        {
          name: physical,
          internal,
          labels: [{ label: "homelab.managed-by", value: "pulumi" }],
        },
        { parent: this, deleteBeforeReplace: true },
      );
    const groups = [...new Set(services.flatMap((s) => (s.group ? [s.group] : [])))].sort();
    return {
      proxy: net(`${name}-net-proxy`, NETWORKS.proxy, false),
      socket: net(`${name}-net-socket`, NETWORKS.socket, true),
      groups: Object.fromEntries(
        groups.map((g) => [g, net(`${name}-net-${g}`, `homelab-${g}`, true)]),
      ),
    };
  }

  private generatedSecrets(name: string, names: string[]): Record<string, pulumi.Output<string>> {
    return Object.fromEntries(
      [...names].sort().map((n) => {
        const r = new random.RandomPassword(
          `${name}-secret-${n}`,
          { length: 32, special: false },
          { parent: this },
        );
        return [n, pulumi.secret(r.result)];
      }),
    );
  }

  /** ntfy here, on a peer, or nowhere (then only the fallback alerts). */
  private alertRoute(
    cfg: StackConfig,
    peers: PeerView[],
    ntfy: Ntfy | undefined,
  ): AlertRoute | undefined {
    if (ntfy) {
      return {
        url: pulumi.output(ntfy.url),
        topic: pulumi.output(alertTopic(cfg.ntfy.topicPrefix, cfg.stack)),
        token: ntfy.publishTokens.apply((t) => t[cfg.stack]!),
      };
    }
    const host = peers.find((p) => p.name === cfg.ntfy.server);
    if (!host) return undefined;
    return {
      url: host.ntfy.apply((n) => {
        if (!n)
          warn(
            `ntfy server "${host.name}" publishes no ntfy output yet: alerts use the fallback until it is deployed.`,
          );
        return n?.url ?? "";
      }),
      topic: host.ntfy.apply((n) => alertTopic(n?.topicPrefix ?? cfg.ntfy.topicPrefix, cfg.stack)),
      token: pulumi.secret(host.ntfyPublishTokens.apply((t) => t[cfg.stack] ?? "")),
    };
  }

  /** Peers' repositories whose folder lists this server as a replica. */
  private replicaRepos(cfg: StackConfig, peers: PeerView[]): pulumi.Output<ReplicaRepo[]> {
    return pulumi
      .all(
        peers.map((p) =>
          pulumi.all([p.syncthing, p.backups, p.backupPasswords]).apply(([st, backups, pw]) =>
            st?.folder.replicas.includes(cfg.stack)
              ? backups.map((b): ReplicaRepo => ({
                  origin: p.name,
                  service: b.service,
                  password: pw[b.service] ?? "",
                  verifyFiles: b.verifyFiles,
                  ...(b.dumpFile ? { dumpFile: b.dumpFile } : {}),
                }))
              : [],
          ),
        ),
      )
      .apply((lists) => lists.flat());
  }

  private services(
    name: string,
    args: ServerArgs,
    ctx: { server: string; domain: string; timezone: string },
    networks: ReturnType<Server["networks"]>,
    secrets: Record<string, pulumi.Output<string>>,
    backup: BackupContext,
  ): Service[] {
    const made = new Map<string, Service>();
    // Declared order of dependencies first, so dependsOn can point at created services.
    const pending = [...args.services];
    while (pending.length > 0) {
      const i = pending.findIndex((s) => s.dependsOn.every((d) => made.has(d)));
      const s = pending.splice(i < 0 ? 0 : i, 1)[0]!;
      made.set(
        s.name,
        new Service(
          `${name}-${s.name}`,
          {
            ...ctx,
            spec: s,
            secrets,
            networks: {
              proxy: networks.proxy,
              group: s.group ? networks.groups[s.group] : undefined,
            },
            backup: s.backup ? backup : undefined,
          },
          {
            parent: this,
            dependsOn: s.dependsOn.flatMap((d) => (made.has(d) ? [made.get(d)!.container] : [])),
          },
        ),
      );
    }
    return args.services.map((s) => made.get(s.name)!);
  }

  private syncthingNode(
    name: string,
    args: ServerArgs,
    ctx: { server: string; domain: string; timezone: string },
    backupVolume: docker.Volume,
    proxy: docker.Network,
  ): Syncthing {
    const cfg = args.config;
    const peerState = pulumi.all(
      args.peers.map((p) => p.syncthing.apply((st) => ({ name: p.name, st }))),
    );
    const devices = peerState.apply((list): SyncthingDevice[] =>
      list.flatMap(({ name: n, st }) =>
        st ? [{ name: n, deviceId: st.deviceId, address: st.address }] : [],
      ),
    );
    const folders = peerState.apply((list): SyncthingFolder[] => {
      const known = list.filter((p) => p.st).map((p) => p.name);
      for (const r of cfg.backup.replicateTo) {
        if (!known.includes(r))
          warn(
            `backups of ${cfg.stack} cannot replicate to "${r}" yet: it publishes no Syncthing device.`,
          );
      }
      const own: SyncthingFolder = {
        id: `backups-${cfg.stack}`,
        label: `restic repositories of ${cfg.stack}`,
        path: `${BACKUP_MOUNT}/${cfg.stack}`,
        type: "sendonly",
        devices: cfg.backup.replicateTo.filter((r) => known.includes(r)).sort(),
      };
      const received = list.flatMap(({ name: n, st }): SyncthingFolder[] =>
        st?.folder.replicas.includes(cfg.stack)
          ? [
              {
                id: st.folder.id,
                label: `replica of ${n}'s restic repositories`,
                path: `${BACKUP_MOUNT}/${n}`,
                type: "receiveonly",
                devices: [n],
                versionsMaxAgeDays: REPLICA_VERSIONS_MAX_AGE_DAYS,
              },
            ]
          : [],
      );
      return [own, ...received];
    });
    return new Syncthing(
      `${name}-syncthing`,
      {
        ...ctx,
        relays: cfg.syncthing.relays,
        globalDiscovery: cfg.syncthing.globalDiscovery,
        devices,
        folders,
        backupVolume,
        proxyNetwork: proxy,
      },
      { parent: this },
    );
  }
}
