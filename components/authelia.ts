import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  AUTHELIA_PATHS,
  AUTHELIA_PORT,
  AUTHELIA_SECRET_KEYS,
  AUTHZ_PORT,
  FORWARD_AUTH_PATH,
  HEALTH_PATH,
  ProtectedRoute,
  argon2idDigest,
  renderAutheliaConfig,
  renderUsersDatabase,
  secretFileEnv,
} from "../configs/authelia";
import type { WatchEndpoint } from "../configs/gatus";
import { AUTHZ_ENTRYPOINT, CERT_RESOLVER, MIDDLEWARES, traefikLabels } from "../configs/traefik";
import type { SsoUser } from "../lib/config";
import type { PublishedSso } from "../lib/peers";
import { IMAGES, SYSTEM_SUBDOMAINS } from "./defaults";
import { homelabContainer, homelabVolume, upload } from "./docker";

const TYPE = "homelab:index:Authelia";
/** Container name; the SSO server's own Traefik reaches it by this name on the proxy network. */
export const AUTHELIA_CONTAINER = "authelia";

export interface AutheliaArgs {
  server: string;
  /** Base domain; the portal is at auth.<domain>. */
  domain: string;
  timezone: string;
  /** Session cookie domain: every server's domain is under it. */
  cookieDomain: string;
  users: SsoUser[];
  /** Routes of the fleet open to other groups than the admins. */
  groupRoutes: pulumi.Input<ProtectedRoute[]>;
  proxyNetwork: docker.Network;
}

/**
 * Authelia on the server that hosts the fleet's single sign-on: the portal at auth.<domain>,
 * its forward-auth endpoint for this server's Traefik (by container name) and for the peers'
 * Traefik (through the authz entry point), users from config with generated passwords, every
 * secret generated and handed over as a file.
 */
export class Authelia extends pulumi.ComponentResource {
  readonly url: string;
  /** What peers read (stack output `sso`). */
  readonly published: PublishedSso;
  /** Forward-auth address for this server's own Traefik. */
  readonly localForwardAuth: string;
  /** Generated password of each user, by name (secret). */
  readonly passwords: pulumi.Output<Record<string, string>>;
  readonly endpoint: WatchEndpoint;
  /** Its SQLite storage (second factors, among others), backed up by components/server.ts. */
  readonly dataVolume: docker.Volume;

  constructor(name: string, args: AutheliaArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const host = `${SYSTEM_SUBDOMAINS.sso}.${args.domain}`;
    this.url = `https://${host}`;
    const users = [...args.users].sort((a, b) => (a.name < b.name ? -1 : 1));
    const secrets = AUTHELIA_SECRET_KEYS.map((key) => ({
      key,
      file: `${AUTHELIA_PATHS.secrets}/${key.replace(/[^a-z0-9]+/g, "_")}`,
      value: new random.RandomPassword(
        `${name}-${key.replace(/[^a-z0-9]+/g, "-")}`,
        { length: 64, special: false },
        { parent: this },
      ).result,
    }));
    const passwords = Object.fromEntries(
      users.map((u) => [
        u.name,
        new random.RandomPassword(
          `${name}-password-${u.name}`,
          { length: 32, special: false },
          { parent: this },
        ).result,
      ]),
    );
    // One salt per user, kept in state: the digest is the same on every run (no perpetual diff).
    const salts = Object.fromEntries(
      users.map((u) => [
        u.name,
        new random.RandomBytes(`${name}-salt-${u.name}`, { length: 16 }, { parent: this }).base64,
      ]),
    );
    const digests = pulumi
      .all([pulumi.all(passwords), pulumi.all(salts)])
      .apply(async ([pw, salt]) =>
        Object.fromEntries(
          await Promise.all(
            users.map(
              async (u) =>
                [
                  u.name,
                  await argon2idDigest(pw[u.name]!, Buffer.from(salt[u.name]!, "base64")),
                ] as const,
            ),
          ),
        ),
      );
    const data = homelabVolume(`${name}-data`, "authelia-data", args.server, "data", {
      parent: this,
    });
    homelabContainer(
      `${name}-container`,
      {
        name: AUTHELIA_CONTAINER,
        server: args.server,
        role: "sso",
        image: IMAGES.authelia,
        command: ["--config", AUTHELIA_PATHS.config],
        env: {
          TZ: args.timezone,
          ...Object.fromEntries(secrets.map((s) => [secretFileEnv(s.key), s.file])),
        },
        labels: {
          ...traefikLabels({ name: "authelia", host, port: AUTHELIA_PORT, admin: false }),
          // Peers' forward-auth requests: only the authz API, on the entry point that keeps
          // their X-Forwarded-* headers (configs/traefik.ts AUTHZ_ENTRYPOINT).
          "traefik.http.routers.authelia-authz.entrypoints": AUTHZ_ENTRYPOINT,
          "traefik.http.routers.authelia-authz.rule": `Host(\`${host}\`) && PathPrefix(\`/api/authz/\`)`,
          "traefik.http.routers.authelia-authz.service": "authelia",
          "traefik.http.routers.authelia-authz.middlewares": MIDDLEWARES.secureHeaders,
          "traefik.http.routers.authelia-authz.tls": "true",
          "traefik.http.routers.authelia-authz.tls.certresolver": CERT_RESOLVER,
        },
        networks: [args.proxyNetwork.name],
        volumes: [{ volumeName: data.name, containerPath: AUTHELIA_PATHS.data }],
        uploads: [
          upload(
            AUTHELIA_PATHS.config,
            pulumi.output(args.groupRoutes).apply((groupRoutes) =>
              renderAutheliaConfig({
                url: this.url,
                cookieDomain: args.cookieDomain,
                groupRoutes,
              }),
            ),
          ),
          upload(
            AUTHELIA_PATHS.users,
            pulumi.secret(digests.apply((d) => renderUsersDatabase(users, d))),
            "0400",
          ),
          ...secrets.map((s) => upload(s.file, pulumi.secret(s.value), "0400")),
        ],
      },
      { parent: this },
    );
    this.dataVolume = data;
    this.localForwardAuth = `http://${AUTHELIA_CONTAINER}:${AUTHELIA_PORT}${FORWARD_AUTH_PATH}`;
    this.published = {
      url: this.url,
      forwardAuth: `https://${host}:${AUTHZ_PORT}${FORWARD_AUTH_PATH}`,
      cookieDomain: args.cookieDomain,
    };
    this.passwords = pulumi.secret(pulumi.all(passwords));
    this.endpoint = {
      name: "sso",
      url: `${this.url}${HEALTH_PATH}`,
      conditions: ["[STATUS] == 200", "[BODY].status == OK"],
    };
    this.registerOutputs({
      url: this.url,
      published: this.published,
      passwords: this.passwords,
      endpoint: this.endpoint,
    });
  }
}
