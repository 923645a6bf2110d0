/**
 * Traefik's static configuration, its file-provider dynamic configuration and the Docker labels
 * that route a service. Pure functions: tested without mocks and validated against the
 * SchemaStore Traefik v3 schemas.
 */
import { stringify } from "yaml";
import { NETWORKS } from "../components/defaults";
import { AUTHZ_PORT, forwardAuthMiddleware } from "./authelia";
import { byKey } from "../lib/order";

/** ACME settings as Traefik needs them. */
export type AcmeSettings =
  | { email: string; staging: boolean; challenge: "http" }
  | { email: string; staging: boolean; challenge: "dns"; provider: string };

/** Name of the certificate resolver every router uses. */
export const CERT_RESOLVER = "letsencrypt";
/** Middlewares defined in the dynamic file and referenced by routers. */
export const MIDDLEWARES = {
  secureHeaders: "secure-headers@file",
  adminAuth: "admin-auth@file",
} as const;
/**
 * On the SSO server: the entry point peers' Traefik send forward-auth requests to. Traefik
 * deletes every X-Forwarded-* header a client sends unless the entry point trusts it
 * (traefik v3.5.3 pkg/middlewares/forwardedheaders/forwarded_header.go:190-195, xHeaders
 * :31-43) and then sets its own, so through `websecure` Authelia would judge every peer's
 * request as one for auth.<domain> itself. This entry point keeps them
 * (`forwardedHeaders.insecure`), and only Authelia's authz API is routed on it.
 */
export const AUTHZ_ENTRYPOINT = "authz";

/** File paths inside the Traefik container. */
export const TRAEFIK_PATHS = {
  static: "/etc/traefik/traefik.yml",
  dynamic: "/etc/traefik/dynamic/homelab.yml",
  users: "/etc/traefik/users",
  acmeDir: "/letsencrypt",
} as const;

const LE_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";

/** traefik.yml */
export function renderTraefikStatic(
  domain: string,
  acme: AcmeSettings,
  socketProxyEndpoint: string,
  opts: { authz?: boolean } = {},
): string {
  const challenge =
    acme.challenge === "http"
      ? { httpChallenge: { entryPoint: "web" } }
      : { dnsChallenge: { provider: acme.provider, resolvers: ["1.1.1.1:53", "9.9.9.9:53"] } };
  const tls =
    acme.challenge === "dns"
      ? { certResolver: CERT_RESOLVER, domains: [{ main: domain, sans: [`*.${domain}`] }] }
      : { certResolver: CERT_RESOLVER };
  return stringify({
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    log: { level: "INFO" },
    accessLog: {},
    ping: { entryPoint: "traefik" },
    api: { dashboard: true },
    entryPoints: {
      web: {
        address: ":80",
        http: {
          redirections: { entryPoint: { to: "websecure", scheme: "https", permanent: true } },
        },
      },
      websecure: { address: ":443", http: { tls } },
      ...(opts.authz
        ? {
            [AUTHZ_ENTRYPOINT]: {
              address: `:${AUTHZ_PORT}`,
              forwardedHeaders: { insecure: true },
              http: { tls },
            },
          }
        : {}),
      traefik: { address: ":8080" },
    },
    providers: {
      docker: {
        endpoint: socketProxyEndpoint,
        exposedByDefault: false,
        network: NETWORKS.proxy,
        watch: true,
      },
      file: { directory: "/etc/traefik/dynamic", watch: true },
    },
    certificatesResolvers: {
      [CERT_RESOLVER]: {
        acme: {
          email: acme.email,
          storage: `${TRAEFIK_PATHS.acmeDir}/acme.json`,
          ...(acme.staging ? { caServer: LE_STAGING } : {}),
          ...challenge,
        },
      },
    },
  });
}

/**
 * The file-provider config: security headers, admin auth, TLS floor, and the dashboard router.
 * Admin auth is the single sign-on's forward auth when `forwardAuth` (its address) is given,
 * else basic auth with the generated users file: every admin route names `admin-auth`, so
 * switching SSO on or off changes them all at once.
 */
export function renderTraefikDynamic(dashboardHost: string, forwardAuth?: string): string {
  return stringify({
    http: {
      middlewares: {
        "secure-headers": {
          headers: {
            stsSeconds: 31536000,
            stsIncludeSubdomains: true,
            stsPreload: true,
            forceSTSHeader: true,
            contentTypeNosniff: true,
            browserXssFilter: true,
            frameDeny: true,
            referrerPolicy: "strict-origin-when-cross-origin",
            permissionsPolicy: "camera=(), microphone=(), geolocation=(), interest-cohort=()",
          },
        },
        "admin-auth": forwardAuth
          ? forwardAuthMiddleware(forwardAuth)
          : { basicAuth: { usersFile: TRAEFIK_PATHS.users, realm: "homelab" } },
      },
      routers: {
        dashboard: {
          rule: `Host(\`${dashboardHost}\`)`,
          entryPoints: ["websecure"],
          service: "api@internal",
          middlewares: ["secure-headers", "admin-auth"],
          tls: { certResolver: CERT_RESOLVER },
        },
      },
    },
    tls: { options: { default: { minVersion: "VersionTLS12", sniStrict: true } } },
  });
}

/** A basic-auth users file line from a bcrypt hash. */
export function renderUsersFile(user: string, bcryptHash: string): string {
  return `${user}:${bcryptHash}\n`;
}

/** Options of one routed container. */
export interface RouteOptions {
  /** Router and service name (the service name). */
  name: string;
  /** Full host name. */
  host: string;
  /** Container port. */
  port: number;
  /** Put admin auth in front (the single sign-on, else basic auth). */
  admin: boolean;
  /**
   * Paths that stay open without admin auth on an admin route (e.g. a health path that other
   * servers' Gatus check): a second router matching only them. Traefik ranks routers by rule
   * length by default, so the longer, path-limited rule wins for those paths.
   */
  openPaths?: string[];
}

/** Docker labels that route a container through Traefik, sorted by key. */
export function traefikLabels(r: RouteOptions): Record<string, string> {
  const router = `traefik.http.routers.${r.name}`;
  const middlewares = r.admin
    ? [MIDDLEWARES.secureHeaders, MIDDLEWARES.adminAuth]
    : [MIDDLEWARES.secureHeaders];
  const labels: Record<string, string> = {
    "traefik.enable": "true",
    "traefik.docker.network": NETWORKS.proxy,
    [`${router}.entrypoints`]: "websecure",
    [`${router}.rule`]: `Host(\`${r.host}\`)`,
    [`${router}.tls`]: "true",
    [`${router}.tls.certresolver`]: CERT_RESOLVER,
    [`${router}.middlewares`]: middlewares.join(","),
    [`${router}.service`]: r.name,
    [`traefik.http.services.${r.name}.loadbalancer.server.port`]: String(r.port),
  };
  if (r.admin && r.openPaths?.length) {
    const open = `traefik.http.routers.${r.name}-open`;
    const paths = r.openPaths.map((p) => `Path(\`${p}\`)`).join(" || ");
    Object.assign(labels, {
      [`${open}.entrypoints`]: "websecure",
      [`${open}.rule`]: `Host(\`${r.host}\`) && (${paths})`,
      [`${open}.tls`]: "true",
      [`${open}.tls.certresolver`]: CERT_RESOLVER,
      [`${open}.middlewares`]: MIDDLEWARES.secureHeaders,
      [`${open}.service`]: r.name,
    });
  }
  return Object.fromEntries(Object.entries(labels).sort(byKey));
}
