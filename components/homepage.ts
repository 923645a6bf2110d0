import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { WatchEndpoint } from "../configs/gatus";
import {
  CatalogueGroup,
  HOMEPAGE_CONFIG_DIR,
  HOMEPAGE_PORT,
  homepageFiles,
} from "../configs/homepage";
import { traefikLabels } from "../configs/traefik";
import { CERT_MIN_VALIDITY, IMAGES, SYSTEM_SUBDOMAINS } from "./defaults";
import { homelabContainer, upload } from "./docker";

const TYPE = "homelab:index:Homepage";

export interface HomepageArgs {
  /** Server (stack) name. */
  server: string;
  /** Base domain; the page is at homepage.<domain>. */
  domain: string;
  /** TZ of the container. */
  timezone: string;
  /** The page's sections: this server's catalogue and every peer's that publishes one. */
  groups: pulumi.Input<CatalogueGroup[]>;
  /** Network Traefik routes on. */
  proxyNetwork: docker.Network;
}

/**
 * gethomepage/homepage on the server chosen by `homepageServer`: its config files rendered from
 * every server's catalogue and uploaded into /app/config, behind Traefik as an admin route.
 */
export class Homepage extends pulumi.ComponentResource {
  /** https URL of the page. */
  readonly url: string;
  /** Gatus (here and on peers) watches the route: Traefik's login answers 401. */
  readonly endpoint: WatchEndpoint;
  /** The rendered config files by name (no secrets in them). */
  readonly files: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: HomepageArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const host = `${SYSTEM_SUBDOMAINS.homepage}.${args.domain}`;
    this.files = pulumi.output(args.groups).apply((g) => homepageFiles(g));
    homelabContainer(
      `${name}-container`,
      {
        name: "homepage",
        server: args.server,
        role: "homepage",
        image: IMAGES.homepage,
        env: {
          // Required since v1.0.0 for any host but localhost: homepage answers its /api/* with
          // 400 to a Host header not in this comma-separated list (src/middleware.js:5-17).
          // Traefik passes the browser's Host on (passHostHeader defaults to true,
          // traefik/traefik v3.5.3 pkg/config/dynamic/http_config.go:19-20), without a port on 443.
          HOMEPAGE_ALLOWED_HOSTS: host,
          // The entrypoint drops to this user after chowning /app/config (docker-entrypoint.sh).
          PGID: "1000",
          PUID: "1000",
          // Logs to Docker (rotated by the log driver), not to a file under /app/config/logs.
          LOG_TARGETS: "stdout",
          TZ: args.timezone,
        },
        labels: traefikLabels({ name: "homepage", host, port: HOMEPAGE_PORT, admin: true }),
        networks: [args.proxyNetwork.name],
        uploads: this.files.apply((files) =>
          Object.entries(files).map(([file, content]) =>
            upload(`${HOMEPAGE_CONFIG_DIR}/${file}`, content),
          ),
        ),
      },
      { parent: this },
    );
    this.url = `https://${host}`;
    // Behind Traefik's basic auth every path answers 401 to Gatus (see serviceEndpoints).
    this.endpoint = {
      name: "homepage",
      url: `${this.url}/`,
      conditions: ["[STATUS] == 401", `[CERTIFICATE_EXPIRATION] > ${CERT_MIN_VALIDITY}`],
    };
    this.registerOutputs({ url: this.url, endpoint: this.endpoint, files: this.files });
  }
}
