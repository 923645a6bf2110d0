import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { dumpComplete, jobHeartbeats } from "../configs/backup";
import {
  GATUS_CONTAINER,
  GATUS_PORT,
  Heartbeat,
  WatchEndpoint,
  gatusSelfEndpoint,
  serviceEndpoints,
} from "../configs/gatus";
import { CatalogueEntry, ComponentUi, serverCatalogue } from "../configs/homepage";
import { NTFY_CONTAINER } from "../configs/ntfy";
import type { StackConfig } from "../lib/config";
import type { ResolvedBackup, ResolvedService } from "../lib/model";
import { byText } from "../lib/order";
import { warn } from "../lib/warnings";
import type {
  PeerView,
  PublishedBackup,
  PublishedNtfy,
  PublishedSso,
  PublishedSyncthing,
} from "../lib/peers";
import {
  AlertRoute,
  alertRoute,
  homepageGroups,
  ownFolderId,
  replicaRepos,
  ssoForwardAuth,
  ssoGroupRoutes,
  syncthingTopology,
} from "../lib/wiring";
import { ProtectedRoute, cookieDomainOf } from "../configs/authelia";
import { AUTHELIA_CONTAINER, Authelia } from "./authelia";
import { BackupLayout } from "./backup-layout";
import { COMPONENT_STATE_VOLUME, componentStates } from "./component-state";
import {
  BackupReplicas,
  REPLICAS_CONTAINER,
  ReplicaRepo,
  replicaHeartbeats,
  replicaSchedules,
} from "./backup-replicas";
import { BACKUP_VOLUME, IMAGES, NETWORKS, SYNCTHING_PORT, SYSTEM_SUBDOMAINS } from "./defaults";
import { homelabNetwork, homelabVolume } from "./docker";
import { Gatus } from "./gatus";
import { Homepage } from "./homepage";
import { Ntfy } from "./ntfy";
import { ResticBackup, backupSidecarName, repositoryDir, writerSchedules } from "./restic-backup";
import { BackupContext, Service } from "./service";
import { Syncthing } from "./syncthing";
import { Traefik } from "./traefik";
import { Watchtower } from "./watchtower";

const TYPE = "homelab:index:Server";
/** Backup jobs reach Gatus by its container name on the proxy network. */
const GATUS_INTERNAL_URL = `http://${GATUS_CONTAINER}:${GATUS_PORT}`;

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

type Ctx = { server: string; domain: string; timezone: string };
type Networks = ReturnType<Server["networks"]>;

/**
 * One server: networks, the standard four (Traefik, Gatus, Syncthing, Watchtower), ntfy where
 * it is hosted, every declared service with its backup, and the verification of the replicas
 * it keeps for its peers. Its public fields are the stack outputs peers read.
 */
export class Server extends pulumi.ComponentResource {
  /** What peers' Gatus watch. */
  readonly endpoints: WatchEndpoint[];
  /** Device ID, address and the folder of this server's repositories. */
  readonly syncthing: pulumi.Output<PublishedSyncthing>;
  /** This server's repositories. */
  readonly backups: PublishedBackup[];
  /** Restic passwords by service (secret). */
  readonly backupPasswords: pulumi.Output<Record<string, string>>;
  /** On the ntfy server: URL and topic prefix. */
  readonly ntfy?: PublishedNtfy;
  /** On the ntfy server: publish token per server (secret). */
  readonly ntfyPublishTokens?: pulumi.Output<Record<string, string>>;
  /** On the SSO server: the portal and forward-auth address peers use. */
  readonly sso?: PublishedSso;
  /** Routes here open to groups besides the admins, for the SSO server's access rules. */
  readonly ssoRoutes?: ProtectedRoute[];
  /** Human summary: URLs of everything here. */
  readonly summary: pulumi.Output<unknown>;
  /** Logins of the admin UIs (secret). */
  readonly credentials: pulumi.Output<unknown>;
  /** What runs here, for the fleet's homepage (published to peers). */
  readonly catalogue: CatalogueEntry[];
  /** On the homepage server: the page's URL and rendered config files. */
  readonly homepage?: Homepage;

  constructor(name: string, args: ServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const cfg = args.config;
    const ctx: Ctx = { server: cfg.stack, domain: cfg.domain, timezone: cfg.timezone };
    const networks = this.networks(name, args.services);
    // Everything backed up here: the services' data and the components' own state.
    const states = componentStates(cfg);
    const backedUp = [
      ...args.services.flatMap((s) => (s.backup ? [{ name: s.name, backup: s.backup }] : [])),
      ...states,
    ];
    const backupVolume = homelabVolume(`${name}-backups`, BACKUP_VOLUME, cfg.stack, "data", {
      parent: this,
    });
    // Every directory a container mounts alone: this server's repositories and Syncthing
    // marker, and one folder per peer for the replicas.
    const layout = new BackupLayout(
      `${name}-backup-layout`,
      {
        server: cfg.stack,
        backupVolume,
        directories: [
          `${cfg.stack}/.stfolder`,
          ...backedUp.map((b) => repositoryDir(cfg.stack, b.name)),
          ...cfg.peers,
        ],
      },
      { parent: this },
    );
    const ntfy =
      cfg.ntfy.server === cfg.stack ? this.ntfyServer(name, cfg, ctx, networks) : undefined;
    const alerts = alertRoute(cfg, args.peers, ntfy);
    const groupRoutes = args.services.flatMap((s): ProtectedRoute[] =>
      s.http && s.http.groups.length > 0
        ? [{ host: `${s.http.subdomain}.${cfg.domain}`, groups: s.http.groups }]
        : [],
    );
    // config.ts refuses an SSO server whose domain has no parent to share a cookie.
    const cookieDomain = cookieDomainOf(cfg.domain)!;
    const sso =
      cfg.sso.server === cfg.stack
        ? new Authelia(
            `${name}-sso`,
            {
              ...ctx,
              cookieDomain,
              users: cfg.sso.users,
              groupRoutes: ssoGroupRoutes(groupRoutes, args.peers, cookieDomain, cfg.domain),
              proxyNetwork: networks.proxy,
            },
            { parent: this },
          )
        : undefined;
    const traefik = this.traefik(
      name,
      args,
      ctx,
      networks,
      ssoForwardAuth(cfg, args.peers, sso?.localForwardAuth),
      !!sso,
    );
    const syncthing = this.syncthingNode(name, args, ctx, backupVolume, layout, networks);
    const replicas = replicaRepos(cfg, args.peers);
    this.catalogue = serverCatalogue(
      cfg.stack,
      cfg.domain,
      args.services,
      componentUis(cfg.domain, traefik, syncthing, ntfy, sso),
    );
    const homepage =
      cfg.homepageServer === cfg.stack
        ? new Homepage(
            `${name}-homepage`,
            {
              ...ctx,
              groups: homepageGroups(cfg, this.catalogue, args.peers),
              proxyNetwork: networks.proxy,
            },
            { parent: this },
          )
        : undefined;
    this.homepage = homepage;
    const components = [
      traefik.endpoint,
      syncthing.endpoint,
      ...(ntfy ? [ntfy.endpoint] : []),
      ...(sso ? [sso.endpoint] : []),
      ...(homepage ? [homepage.endpoint] : []),
    ];
    const local = [...components, ...args.services.flatMap((s) => serviceEndpoints(s, cfg.domain))];
    const gatus = this.gatus(name, args, ctx, local, replicas, alerts, networks, backedUp);
    const backup: BackupContext = {
      backupVolume,
      layout: layout.job,
      gatusUrl: GATUS_INTERNAL_URL,
      heartbeatTokens: gatus.heartbeatTokens,
      ntfy: alerts && { topicUrl: topicUrl(alerts), token: alerts.token },
    };
    const services = this.services(name, args, ctx, networks, backup);
    const stateVolumes = new Map<string, docker.Volume>([
      ...(sso ? [[AUTHELIA_CONTAINER, sso.dataVolume] as const] : []),
      ...(ntfy ? [[NTFY_CONTAINER, ntfy.dataVolume] as const] : []),
    ]);
    const componentBackups = states.map((st) => ({
      name: st.name,
      backup: st.backup,
      restic: new ResticBackup(
        `${name}-${st.name}-backup`,
        {
          ...ctx,
          service: st.name,
          backup: st.backup,
          volumes: { [COMPONENT_STATE_VOLUME]: stateVolumes.get(st.name)!.name },
          backupVolume,
          networks: [networks.proxy.name],
          gatusUrl: backup.gatusUrl,
          heartbeatToken: gatus.heartbeatTokens[backupSidecarName(st.name)]!,
          ntfy: backup.ntfy,
          dumpEnv: {},
          after: [layout.job],
        },
        { parent: this },
      ),
    }));
    const written = [
      ...services.flatMap((s) =>
        s.backup ? [{ name: s.spec.name, backup: s.spec.backup!, restic: s.backup }] : [],
      ),
      ...componentBackups,
    ];
    new Watchtower(
      `${name}-watchtower`,
      {
        ...ctx,
        schedule: cfg.watchtowerSchedule,
        ntfy: alerts && {
          url: alerts.url,
          topic: alerts.topic,
          token: alerts.token,
        },
      },
      { parent: this },
    );
    if (cfg.peers.length > 0) {
      new BackupReplicas(
        `${name}-backup-replicas`,
        {
          ...ctx,
          repos: replicas,
          checkSchedule: cfg.backup.checkSchedule,
          drillSchedule: cfg.backup.drillSchedule,
          trust: cfg.trust,
          peers: cfg.peers,
          backupVolume,
          networks: [networks.proxy.name],
          gatusUrl: backup.gatusUrl,
          heartbeatToken: gatus.heartbeatTokens[REPLICAS_CONTAINER]!,
          ntfy: backup.ntfy,
          after: [layout.job],
        },
        { parent: this, dependsOn: [gatus] },
      );
    }

    this.endpoints = [gatus.endpoint, ...local].sort((a, b) => byText(a.name, b.name));
    this.syncthing = syncthing.deviceId.apply((deviceId) => ({
      deviceId,
      address: cfg.syncthing.address || `tcp://${cfg.host}:${SYNCTHING_PORT}`,
      folder: { id: ownFolderId(cfg.stack), replicas: [...cfg.backup.replicateTo].sort() },
      trust: cfg.trust,
    }));
    this.backups = written.map(publishedBackup);
    this.backupPasswords = pulumi.secret(
      pulumi.all(Object.fromEntries(written.map((w) => [w.name, w.restic.password]))),
    );
    this.ntfy = ntfy && { url: ntfy.url, topicPrefix: cfg.ntfy.topicPrefix };
    this.ntfyPublishTokens = ntfy?.publishTokens;
    this.sso = sso?.published;
    this.ssoRoutes = groupRoutes.length > 0 ? groupRoutes : undefined;
    this.summary = pulumi.output({
      server: cfg.stack,
      role: args.role,
      status: gatus.url,
      dashboards: { traefik: traefik.dashboardUrl, syncthing: syncthing.guiUrl },
      services: Object.fromEntries(services.map((s) => [s.spec.name, serviceAddress(s)])),
      ...(ntfy ? { ntfy: ntfy.url } : {}),
      ...(sso ? { sso: sso.url } : {}),
      ...(homepage ? { homepage: homepage.url } : {}),
      credentials: "pulumi stack output --show-secrets credentials",
    });
    this.credentials = pulumi.secret(
      pulumi.output({
        traefik: pulumi.interpolate`admin / ${traefik.dashboardPassword}`,
        gatus: pulumi.interpolate`admin / ${gatus.password}`,
        syncthing: pulumi.interpolate`admin / ${syncthing.guiPassword}`,
        ...(ntfy ? { ntfy: ntfy.passwords } : {}),
        ...(sso ? { sso: sso.passwords } : {}),
        // An admin route: Traefik's basic auth, the dashboard's users file.
        ...(homepage ? { homepage: pulumi.interpolate`admin / ${traefik.dashboardPassword}` } : {}),
      }),
    );
    this.registerOutputs({
      endpoints: this.endpoints,
      syncthing: this.syncthing,
      backups: this.backups,
      backupPasswords: this.backupPasswords,
      ntfy: this.ntfy,
      ntfyPublishTokens: this.ntfyPublishTokens,
      sso: this.sso,
      ssoRoutes: this.ssoRoutes,
      summary: this.summary,
      credentials: this.credentials,
      catalogue: this.catalogue,
      homepage: this.homepage,
    });
  }

  /** The shared proxy network, the internal socket network, and one internal network per group. */
  private networks(name: string, services: ResolvedService[]) {
    const net = (logical: string, physical: string, internal: boolean) =>
      homelabNetwork(logical, physical, internal, { parent: this });
    const groups = [...new Set(services.flatMap((s) => (s.group ? [s.group] : [])))].sort();
    return {
      proxy: net(`${name}-net-proxy`, NETWORKS.proxy, false),
      socket: net(`${name}-net-socket`, NETWORKS.socket, true),
      groups: Object.fromEntries(
        groups.map((g) => [g, net(`${name}-net-${g}`, `homelab-${g}`, true)]),
      ),
    };
  }

  private ntfyServer(name: string, cfg: StackConfig, ctx: Ctx, networks: Networks): Ntfy {
    return new Ntfy(
      `${name}-ntfy`,
      {
        ...ctx,
        publishers: [cfg.stack, ...cfg.peers],
        topicPrefix: cfg.ntfy.topicPrefix,
        access: cfg.ntfy.access,
        proxyNetwork: networks.proxy,
      },
      { parent: this },
    );
  }

  private traefik(
    name: string,
    args: ServerArgs,
    ctx: Ctx,
    networks: Networks,
    forwardAuth: pulumi.Output<string | undefined>,
    authz: boolean,
  ): Traefik {
    const acme = args.config.acme;
    const token = args.userSecrets.acmeDnsToken;
    return new Traefik(
      `${name}-traefik`,
      {
        ...ctx,
        acme,
        dnsToken:
          acme.challenge === "dns" && token ? { env: acme.tokenEnv, value: token } : undefined,
        networks: { proxy: networks.proxy, socket: networks.socket },
        forwardAuth,
        authz,
        bindAddresses: args.config.bindAddresses,
      },
      { parent: this },
    );
  }

  private syncthingNode(
    name: string,
    args: ServerArgs,
    ctx: Ctx,
    backupVolume: docker.Volume,
    layout: BackupLayout,
    networks: Networks,
  ): Syncthing {
    const cfg = args.config;
    const { devices, folders } = syncthingTopology(cfg, args.peers);
    return new Syncthing(
      `${name}-syncthing`,
      {
        ...ctx,
        relays: cfg.syncthing.relays,
        globalDiscovery: cfg.syncthing.globalDiscovery,
        devices,
        folders,
        backupVolume,
        peers: cfg.peers,
        after: [layout.job],
        proxyNetwork: networks.proxy,
        sso: cfg.sso.server !== "",
        bindAddresses: cfg.bindAddresses,
      },
      { parent: this },
    );
  }

  /** Gatus: this server's endpoints, the peers' published ones, and every job's heartbeat. */
  private gatus(
    name: string,
    args: ServerArgs,
    ctx: Ctx,
    local: WatchEndpoint[],
    replicas: pulumi.Output<ReplicaRepo[]>,
    alerts: AlertRoute | undefined,
    networks: Networks,
    backedUp: { name: string; backup: ResolvedBackup }[],
  ): Gatus {
    const cfg = args.config;
    // Heartbeats only need names and schedules: leave the peers' passwords out, or the whole
    // (secret-free) Gatus config would become a secret and its diffs hidden in previews.
    const heartbeats = replicas.apply((repos): Heartbeat[] => [
      ...backedUp.flatMap((b) =>
        jobHeartbeats(b.name, writerSchedules(b.backup), "jobs", backupSidecarName(b.name)),
      ),
      ...replicaHeartbeats(
        repos,
        replicaSchedules(cfg.trust, cfg.backup.checkSchedule, cfg.backup.drillSchedule),
      ),
    ]);
    // One token per container that pushes heartbeats: a job can only report for its own.
    const senders = [
      ...backedUp.map((b) => backupSidecarName(b.name)),
      ...(cfg.peers.length > 0 ? [REPLICAS_CONTAINER] : []),
    ];
    const publicHeartbeats = pulumi.unsecret(heartbeats);
    return new Gatus(
      `${name}-gatus`,
      {
        ...ctx,
        config: {
          server: cfg.stack,
          local,
          peers: pulumi.all(
            Object.fromEntries(
              args.peers.map((p) => [
                p.name,
                p.endpoints.apply((list) => warnSharedHosts(cfg, p.name, local, list)),
              ]),
            ),
          ),
          heartbeats: publicHeartbeats,
          ntfy: alerts
            ? pulumi
                .all([alerts.url, alerts.topic])
                .apply(([url, topic]) => (url ? { url, topic } : undefined))
            : undefined,
          fallback: cfg.fallbackAlert,
          ntfyServer: cfg.ntfy.server,
          private: !cfg.gatusPublic,
        },
        heartbeatSenders: senders,
        ntfyToken: alerts?.token,
        smtpPassword:
          cfg.fallbackAlert?.kind === "email" ? args.userSecrets.smtpPassword : undefined,
        proxyNetwork: networks.proxy,
        sso: cfg.sso.server !== "",
      },
      { parent: this },
    );
  }

  /** Every declared service, each after the services it depends on. */
  private services(
    name: string,
    args: ServerArgs,
    ctx: Ctx,
    networks: Networks,
    backup: BackupContext,
  ): Service[] {
    const secrets = this.generatedSecrets(name, args.secretNames);
    const made = new Map<string, Service>();
    const images = Object.fromEntries(args.services.map((x) => [x.name, x.image]));
    const pending = [...args.services];
    while (pending.length > 0) {
      // resolveServices rejected unknown dependencies, so one is always ready unless there is a cycle.
      const i = pending.findIndex((s) => s.dependsOn.every((d) => made.has(d)));
      const s = pending.splice(Math.max(i, 0), 1)[0]!;
      const service = new Service(
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
          bindAddresses: args.config.bindAddresses,
          images,
        },
        {
          parent: this,
          dependsOn: s.dependsOn.flatMap((d) => (made.has(d) ? [made.get(d)!.container] : [])),
        },
      );
      made.set(s.name, service);
    }
    return args.services.map((s) => made.get(s.name)!);
  }

  /** The secrets services refer to with `{ secret: name }`: generated once, kept in state. */
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
}

/**
 * A peer that publishes endpoints on this server's own hosts shares its domain (or one of its
 * hosts): DNS sends each name to one machine only. Said at every run; the fleet's
 * `unique-hosts` guardrail reports the same from the plan.
 */
function warnSharedHosts(
  cfg: StackConfig,
  peer: string,
  local: WatchEndpoint[],
  list: WatchEndpoint[],
): WatchEndpoint[] {
  const host = (u: string) => /^https:\/\/([^/:]+)/.exec(u)?.[1];
  const own = new Set(local.map((e) => host(e.url)).filter(Boolean));
  const shared = [...new Set(list.map((e) => host(e.url)).filter((h) => h && own.has(h)))];
  if (shared.length)
    warn(
      `peer "${peer}" publishes endpoints on hosts ${cfg.stack} routes too (${shared.sort().join(", ")}): two servers share a domain? Give each server its own domain (homelab:domain); until then DNS sends each host to one of them only.`,
    );
  return list;
}

/** The standard components' web UIs: what the homepage links to and checks. */
function componentUis(
  domain: string,
  traefik: Traefik,
  syncthing: Syncthing,
  ntfy?: Ntfy,
  sso?: Authelia,
) {
  const ui = (c: ComponentUi) => c;
  return [
    ui({
      name: "traefik",
      description: "Traefik dashboard: routers, services, certificates",
      url: traefik.endpoint.url,
      monitor: traefik.endpoint.url,
      image: IMAGES.traefik,
    }),
    ui({
      name: "gatus",
      description: "Gatus: status of this server and what it watches on its peers",
      url: `https://${SYSTEM_SUBDOMAINS.gatus}.${domain}`,
      monitor: gatusSelfEndpoint(`${SYSTEM_SUBDOMAINS.gatus}.${domain}`).url,
      image: IMAGES.gatus,
    }),
    ui({
      name: "syncthing",
      description: "Syncthing: replication of the backup repositories",
      url: syncthing.guiUrl,
      monitor: syncthing.endpoint.url,
      image: IMAGES.syncthing,
    }),
    ...(ntfy
      ? [
          ui({
            name: "ntfy",
            description: "ntfy: the fleet's alerts",
            url: ntfy.url,
            monitor: ntfy.endpoint.url,
            image: IMAGES.ntfy,
          }),
        ]
      : []),
    ...(sso
      ? [
          ui({
            name: "sso",
            description: "Authelia: the fleet's single sign-on (log in, second factor)",
            url: sso.url,
            monitor: sso.endpoint.url,
            image: IMAGES.authelia,
          }),
        ]
      : []),
  ];
}

function topicUrl(a: AlertRoute): pulumi.Output<string> {
  return pulumi.all([a.url, a.topic]).apply(([url, topic]) => (url ? `${url}/${topic}` : ""));
}

function publishedBackup(w: {
  name: string;
  backup: ResolvedBackup;
  restic: ResticBackup;
}): PublishedBackup {
  const b = w.backup;
  const trailer = b.dump && dumpComplete(b.dump.command);
  return {
    service: w.name,
    repository: w.restic.repository,
    schedule: b.schedule,
    retention: b.retention,
    verifyFiles: b.verifyFiles,
    capture: b.capture.kind,
    ...(b.capture.kind === "sqlite" ? { databases: b.capture.databases } : {}),
    ...(b.dump ? { dumpFile: b.dump.filename } : {}),
    ...(trailer ? { dumpComplete: trailer } : {}),
  };
}

function serviceAddress(s: Service): string {
  if (s.url) return s.url;
  return s.spec.ports.length
    ? `ports ${s.spec.ports.map((p) => p.hostPort).join(", ")}`
    : "internal";
}
