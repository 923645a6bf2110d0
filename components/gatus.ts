import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  GATUS_ENV,
  GATUS_CONTAINER,
  GATUS_PATHS,
  GATUS_PORT,
  GatusInput,
  Heartbeat,
  WatchEndpoint,
  gatusEnvScalar,
  gatusSelfEndpoint,
  heartbeatTokenEnv,
  renderGatusConfig,
} from "../configs/gatus";
import { traefikLabels } from "../configs/traefik";
import { IMAGES, SYSTEM_SUBDOMAINS } from "./defaults";
import { homelabContainer, homelabVolume, upload } from "./docker";

const TYPE = "homelab:index:Gatus";

export interface GatusArgs {
  /** Server (stack) name. */
  server: string;
  /** Base domain; Gatus is at status.<domain>. */
  domain: string;
  /** TZ of the container. */
  timezone: string;
  /** Everything rendered into config.yaml except secrets; peers' endpoints arrive as Outputs. */
  config: Omit<GatusInput, "peers" | "ntfy" | "heartbeats"> & {
    peers: pulumi.Input<Record<string, WatchEndpoint[]>>;
    heartbeats: pulumi.Input<Heartbeat[]>;
    ntfy: pulumi.Input<{ url: string; topic: string } | undefined>;
  };
  /** Containers that push heartbeats (`Heartbeat.token`): each gets its own token. */
  heartbeatSenders: string[];
  /** ntfy publish token (secret); absent when the fleet has no ntfy yet. */
  ntfyToken: pulumi.Input<string | undefined>;
  /** SMTP password for an e-mail fallback (secret). */
  smtpPassword?: pulumi.Input<string>;
  /** Network Traefik routes on. */
  proxyNetwork: docker.Network;
  /**
   * The fleet has single sign-on: a private status page also goes through it (admin auth, on
   * top of Gatus' own login); /health stays open for the peers' checks.
   */
  sso?: boolean;
}

/**
 * Gatus, this server's monitor: its own services, every peer's published endpoints and the
 * peers' Gatus, heartbeats of scheduled jobs, alerts to ntfy plus a fallback provider.
 */
export class Gatus extends pulumi.ComponentResource {
  /** https URL of the status page. */
  readonly url: string;
  /** Token each sending container sends with its heartbeats, by container (secret). */
  readonly heartbeatTokens: Record<string, pulumi.Output<string>>;
  /** Password of user `admin` when the page is private (secret). */
  readonly password: pulumi.Output<string>;
  /** How peers watch this Gatus. */
  readonly endpoint: WatchEndpoint;
  /** The rendered config.yaml (no secrets in it). */
  readonly configYaml: pulumi.Output<string>;

  constructor(name: string, args: GatusArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const host = `${SYSTEM_SUBDOMAINS.gatus}.${args.domain}`;
    const tokens = Object.fromEntries(
      [...new Set(args.heartbeatSenders)].sort().map((sender) => {
        const t = new random.RandomPassword(
          `${name}-heartbeat-token-${sender}`,
          { length: 40, special: false },
          { parent: this },
        );
        return [sender, pulumi.secret(t.result)];
      }),
    );
    const password = new random.RandomPassword(
      `${name}-password`,
      { length: 32, special: false },
      { parent: this },
    );
    const data = homelabVolume(`${name}-data`, "gatus-data", args.server, "data", { parent: this });

    this.configYaml = pulumi
      .all([args.config.peers, args.config.ntfy, args.config.heartbeats])
      .apply(([peers, ntfy, heartbeats]) =>
        renderGatusConfig({ ...args.config, peers, ntfy, heartbeats }),
      );
    const env: Record<string, pulumi.Input<string>> = {
      TZ: args.timezone,
      ...Object.fromEntries(
        Object.entries(tokens).map(([sender, t]) => [heartbeatTokenEnv(sender), t]),
      ),
      [GATUS_ENV.ntfyToken]: pulumi.secret(pulumi.output(args.ntfyToken).apply((t) => t ?? "")),
    };
    if (args.config.private) {
      env[GATUS_ENV.passwordHash] = password.bcryptHash.apply((h) =>
        Buffer.from(h).toString("base64"),
      );
    }
    // Gatus pastes it into the file's text (`password: ${SMTP_PASSWORD}`) before parsing the
    // YAML: given as a quoted scalar, any password reads back as itself.
    if (args.smtpPassword !== undefined)
      env[GATUS_ENV.smtpPassword] = pulumi.secret(
        pulumi.output(args.smtpPassword).apply(gatusEnvScalar),
      );

    homelabContainer(
      `${name}-container`,
      {
        name: GATUS_CONTAINER,
        server: args.server,
        role: "gatus",
        image: IMAGES.gatus,
        env,
        labels: traefikLabels({
          name: "gatus",
          host,
          port: GATUS_PORT,
          admin: !!args.sso && args.config.private,
          openPaths: ["/health"],
        }),
        networks: [args.proxyNetwork.name],
        volumes: [{ volumeName: data.name, containerPath: GATUS_PATHS.data }],
        uploads: [upload("/config/config.yaml", this.configYaml)],
      },
      { parent: this },
    );
    this.url = `https://${host}`;
    this.heartbeatTokens = tokens;
    this.password = pulumi.secret(password.result);
    this.endpoint = gatusSelfEndpoint(host);
    this.registerOutputs({
      url: this.url,
      heartbeatTokens: this.heartbeatTokens,
      password: this.password,
      endpoint: this.endpoint,
      configYaml: this.configYaml,
    });
  }
}
