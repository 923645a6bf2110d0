import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  AcmeSettings,
  TRAEFIK_PATHS,
  renderTraefikDynamic,
  renderTraefikStatic,
  renderUsersFile,
} from "../configs/traefik";
import { AUTHZ_PORT } from "../configs/authelia";
import type { WatchEndpoint } from "../configs/gatus";
import { IMAGES, SYSTEM_SUBDOMAINS } from "./defaults";
import { homelabContainer, homelabVolume, upload } from "./docker";

const TYPE = "homelab:index:Traefik";
/** Container name of the socket proxy; Traefik reaches it by this name on the socket network. */
const SOCKET_PROXY = "traefik-socket-proxy";

export interface TraefikArgs {
  /** Server (stack) name. */
  server: string;
  /** Base domain; the dashboard is at traefik.<domain>. */
  domain: string;
  /** TZ of the containers. */
  timezone: string;
  /** Let's Encrypt settings. */
  acme: AcmeSettings;
  /** DNS provider token for the `dns` challenge, and the variable it goes in. */
  dnsToken?: { env: string; value: pulumi.Input<string> };
  /** Networks the server created (Traefik joins both; the socket proxy only the internal one). */
  networks: { proxy: docker.Network; socket: docker.Network };
  /** The single sign-on's forward-auth address for admin routes; undefined: basic auth. */
  forwardAuth?: pulumi.Input<string | undefined>;
  /** This server runs the SSO: open the authz entry point for the peers' forward-auth requests. */
  authz?: boolean;
  /** Host addresses ports 80 and 443 bind to; none: every interface. @default [] */
  bindAddresses?: readonly string[];
}

/**
 * Traefik, the only public entry: HTTP→HTTPS, Let's Encrypt (HTTP-01 or DNS-01 wildcard),
 * Docker discovery through a read-only socket proxy (Traefik never sees the socket), security
 * headers on every route, and its dashboard behind basic auth with a generated password.
 */
export class Traefik extends pulumi.ComponentResource {
  /** https URL of the dashboard. */
  readonly dashboardUrl: pulumi.Output<string>;
  /** Generated dashboard password of user `admin` (secret). */
  readonly dashboardPassword: pulumi.Output<string>;
  /** What Gatus watches: the dashboard must answer 401 without credentials. */
  readonly endpoint: WatchEndpoint;

  constructor(name: string, args: TraefikArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const host = `${SYSTEM_SUBDOMAINS.traefik}.${args.domain}`;
    const proxy = this.socketProxy(`${name}-socket-proxy`, args);
    const acme = homelabVolume(`${name}-acme`, "traefik-acme", args.server, "data", {
      parent: this,
    });
    const password = new random.RandomPassword(
      `${name}-dashboard-password`,
      { length: 32, special: false },
      { parent: this },
    );
    const env: Record<string, pulumi.Input<string>> = { TZ: args.timezone };
    if (args.dnsToken) env[args.dnsToken.env] = pulumi.secret(args.dnsToken.value);
    homelabContainer(
      `${name}-container`,
      {
        name: "traefik",
        server: args.server,
        role: "traefik",
        image: IMAGES.traefik,
        env,
        command: [`--configFile=${TRAEFIK_PATHS.static}`],
        ports: [
          { internal: 80, external: 80 },
          { internal: 443, external: 443 },
          ...(args.authz ? [{ internal: AUTHZ_PORT, external: AUTHZ_PORT }] : []),
        ],
        bindAddresses: args.bindAddresses,
        networks: [args.networks.proxy.name, args.networks.socket.name],
        volumes: [{ volumeName: acme.name, containerPath: TRAEFIK_PATHS.acmeDir }],
        uploads: [
          upload(
            TRAEFIK_PATHS.static,
            renderTraefikStatic(args.domain, args.acme, `tcp://${SOCKET_PROXY}:2375`, {
              authz: args.authz,
            }),
          ),
          upload(
            TRAEFIK_PATHS.dynamic,
            pulumi.output(args.forwardAuth).apply((fa) => renderTraefikDynamic(host, fa)),
          ),
          upload(
            TRAEFIK_PATHS.users,
            password.bcryptHash.apply((h) => renderUsersFile("admin", h)),
            "0400",
          ),
        ],
        healthcheck: {
          tests: ["CMD", "traefik", "healthcheck", "--ping"],
          interval: "30s",
          timeout: "5s",
          retries: 3,
        },
      },
      { parent: this, dependsOn: [proxy] },
    );
    this.dashboardUrl = pulumi.output(`https://${host}/dashboard/`);
    this.dashboardPassword = pulumi.secret(password.result);
    this.endpoint = {
      name: "traefik",
      url: `https://${host}/dashboard/`,
      conditions: ["[STATUS] == 401"],
    };
    this.registerOutputs({
      dashboardUrl: this.dashboardUrl,
      dashboardPassword: this.dashboardPassword,
      endpoint: this.endpoint,
    });
  }

  /** The only container with the Docker socket for Traefik: read-only, GET of containers/networks. */
  private socketProxy(name: string, args: TraefikArgs): docker.Container {
    return homelabContainer(
      name,
      {
        name: SOCKET_PROXY,
        server: args.server,
        role: "socket-proxy",
        image: IMAGES.socketProxy,
        env: {
          CONTAINERS: "1",
          EVENTS: "1",
          NETWORKS: "1",
          PING: "1",
          POST: "0",
          SERVICES: "0",
          TASKS: "0",
          VERSION: "1",
        },
        networks: [args.networks.socket.name],
        volumes: [
          {
            hostPath: "/var/run/docker.sock",
            containerPath: "/var/run/docker.sock",
            readOnly: true,
          },
        ],
      },
      { parent: this },
    );
  }
}
