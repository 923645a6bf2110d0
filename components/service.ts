import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { WatchEndpoint, serviceEndpoints } from "../configs/gatus";
import { traefikLabels } from "../configs/traefik";
import { EnvValue, ResolvedService, isSecretRef } from "../lib/model";
import { homelabContainer, homelabVolume } from "./docker";
import { backupProxy } from "./backup-proxy";
import { ResticBackup, backupSidecarName } from "./restic-backup";

const TYPE = "homelab:index:Service";

/** What a service's backup sidecar needs from the server. */
export interface BackupContext {
  backupVolume: docker.Volume;
  /** The job that creates the repository's directory, which the sidecar mounts alone. */
  layout: pulumi.Resource;
  gatusUrl: string;
  /** Heartbeat tokens by sending container (`backupSidecarName`). */
  heartbeatTokens: Record<string, pulumi.Output<string>>;
  ntfy?: { topicUrl: pulumi.Input<string>; token: pulumi.Input<string> };
}

export interface ServiceArgs {
  /** Server (stack) name. */
  server: string;
  /** Base domain. */
  domain: string;
  /** TZ of the containers. */
  timezone: string;
  /** The resolved declaration. */
  spec: ResolvedService;
  /** Generated secrets of the server, by name. */
  secrets: Record<string, pulumi.Output<string>>;
  /** The proxy network, and the private network of the service's group. */
  networks: { proxy: docker.Network; group?: docker.Network };
  /** Present when the service has a backup. */
  backup?: BackupContext;
  /** Host addresses the service's ports bind to; none: every interface. @default [] */
  bindAddresses?: readonly string[];
  /** Images of the server's services by name (a `stop` capture's group, for its stop grace). */
  images?: Record<string, string>;
}

/**
 * One declared service: its volumes (data ones survive destroy), its container, its Traefik
 * route, the endpoints Gatus watches here and on peers, and its backup sidecar.
 */
export class Service extends pulumi.ComponentResource {
  /** Public URL, when routed. */
  readonly url?: string;
  /** What Gatus (local and peers) watches. */
  readonly endpoints: WatchEndpoint[];
  /** The container. */
  readonly container: docker.Container;
  /** The backup sidecar, when the service has data to back up. */
  readonly backup?: ResticBackup;
  /** The resolved declaration it was made from. */
  readonly spec: ResolvedService;

  constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const s = args.spec;
    this.spec = s;
    const volumes = Object.fromEntries(
      s.volumes.map((v) => [
        v.name,
        homelabVolume(`${name}-${v.name}`, `${s.name}-${v.name}`, args.server, v.kind, {
          parent: this,
        }),
      ]),
    );
    const host = s.http ? `${s.http.subdomain}.${args.domain}` : undefined;
    const networks = [
      ...(s.http || s.ports.length ? [args.networks.proxy.name] : []),
      ...(args.networks.group ? [args.networks.group.name] : []),
    ];
    this.container = homelabContainer(
      `${name}-container`,
      {
        name: s.name,
        server: args.server,
        role: "service",
        image: s.image,
        updates: s.updates,
        env: { TZ: args.timezone, ...resolveEnv(s.env, args.secrets) },
        labels:
          s.http && host
            ? traefikLabels({
                name: s.name,
                host,
                port: s.http.port,
                admin: s.http.admin || s.http.groups.length > 0,
              })
            : {},
        networks,
        ports: s.ports.map((p) => ({
          internal: p.port,
          external: p.hostPort,
          protocol: p.protocol,
        })),
        bindAddresses: args.bindAddresses,
        volumes: s.volumes.map((v) => ({
          volumeName: volumes[v.name]!.name,
          containerPath: v.path,
        })),
        command: s.command,
        user: s.user,
      },
      { parent: this, dependsOn: opts?.dependsOn },
    );
    if (s.backup && args.backup) {
      const proxy = backupProxy(
        {
          logical: `${name}-backup-proxy`,
          server: args.server,
          service: s.name,
          backup: s.backup,
          images: args.images ?? { [s.name]: s.image },
        },
        { parent: this },
      );
      this.backup = new ResticBackup(
        `${name}-backup`,
        {
          server: args.server,
          timezone: args.timezone,
          service: s.name,
          backup: s.backup,
          volumes: Object.fromEntries(Object.entries(volumes).map(([k, v]) => [k, v.name])),
          backupVolume: args.backup.backupVolume,
          networks: [
            args.networks.proxy.name,
            ...(args.networks.group ? [args.networks.group.name] : []),
          ],
          gatusUrl: args.backup.gatusUrl,
          heartbeatToken: args.backup.heartbeatTokens[backupSidecarName(s.name)]!,
          ntfy: args.backup.ntfy,
          dumpEnv: resolveEnv(s.backup.dump?.env ?? {}, args.secrets),
          after: [args.backup.layout],
          ...(proxy
            ? {
                dockerProxy: {
                  capture: proxy.capture,
                  network: proxy.network.name,
                  after: proxy.container,
                },
              }
            : {}),
        },
        { parent: this, dependsOn: [this.container] },
      );
    }
    this.url = host && `https://${host}`;
    this.endpoints = serviceEndpoints(s, args.domain);
    this.registerOutputs({
      url: this.url,
      endpoints: this.endpoints,
      container: this.container,
      backup: this.backup,
      spec: this.spec,
    });
  }
}

/** Plain values as they are; `{ secret }` references as the generated secret Output. */
export function resolveEnv(
  env: Record<string, EnvValue>,
  secrets: Record<string, pulumi.Output<string>>,
): Record<string, pulumi.Input<string>> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      isSecretRef(v) ? pulumi.secret(secrets[v.secret]!) : v,
    ]),
  );
}
