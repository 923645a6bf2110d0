/**
 * Authelia (single sign-on in front of the admin UIs): its configuration.yml, its file user
 * database, the password digests in it, and the Traefik forwardAuth middleware that sends a
 * request to it. Pure functions, checked against Authelia's own JSON Schemas for v4.39 and the
 * rules of its configuration validator (test/sso.test.ts).
 *
 * Upstream: github:authelia/authelia at tag v4.39.20.
 */
import { argon2id } from "hash-wasm";
import { stringify } from "yaml";

/** The pinned version; its schemas are vendored in test/schemas/authelia/. */
export const AUTHELIA_VERSION = "4.39.20";
/** Authelia's listener in the container (`server.address`; its default port). */
export const AUTHELIA_PORT = 9091;
/**
 * The Traefik entry point on the SSO server that peers' Traefik send their forward-auth
 * requests to: it keeps the X-Forwarded-* headers they set (see `renderTraefikStatic`).
 */
export const AUTHZ_PORT = 9443;
/** Forward-auth endpoint (docs/content/integration/proxies/traefik.md: `/api/authz/forward-auth`). */
export const FORWARD_AUTH_PATH = "/api/authz/forward-auth";
/** Health endpoint Gatus watches (internal/server/handlers.go registers `/api/health`). */
export const HEALTH_PATH = "/api/health";
/** Files inside the Authelia container. */
export const AUTHELIA_PATHS = {
  config: "/config/configuration.yml",
  users: "/config/users_database.yml",
  secrets: "/config/secrets",
  data: "/data",
  db: "/data/db.sqlite3",
  notifications: "/data/notification.txt",
} as const;
/** The group whose members may use every admin UI of the fleet. */
export const ADMIN_GROUP = "admins";

/**
 * The environment variable that hands Authelia a secret as a file: `AUTHELIA_` + the key in
 * upper case with `.` as `_` + `_FILE` (internal/configuration/helpers.go:88, const.go:10-18).
 */
export function secretFileEnv(key: string): string {
  return `AUTHELIA_${key.toUpperCase().replace(/\./g, "_")}_FILE`;
}

/** The secrets Authelia reads from files, by configuration key. */
export const AUTHELIA_SECRET_KEYS = [
  "identity_validation.reset_password.jwt_secret",
  "session.secret",
  "storage.encryption_key",
] as const;

/** Argon2id parameters: Authelia's defaults (docs/content/configuration/first-factor/file.md). */
export const ARGON2 = { iterations: 3, memory: 65536, parallelism: 4, keyLength: 32 } as const;

/**
 * The argon2id digest of `password` with `salt`, in the PHC form Authelia's file backend reads
 * (`$argon2id$v=19$m=…,t=…,p=…$salt$key`, base64 without padding). The salt comes from a
 * random resource kept in state, so the digest is the same on every run and the user database
 * never shows a diff.
 */
export async function argon2idDigest(password: string, salt: Buffer): Promise<string> {
  return argon2id({
    password,
    salt,
    iterations: ARGON2.iterations,
    memorySize: ARGON2.memory,
    parallelism: ARGON2.parallelism,
    hashLength: ARGON2.keyLength,
    outputType: "encoded",
  });
}

/** A user of the file backend. */
export interface SsoUser {
  name: string;
  email: string;
  groups: string[];
}

/** users_database.yml from the users and their digests. */
export function renderUsersDatabase(users: SsoUser[], digests: Record<string, string>): string {
  return stringify({
    users: Object.fromEntries(
      [...users]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .map((u) => [
          u.name,
          {
            disabled: false,
            displayname: u.name,
            email: u.email,
            groups: [...u.groups].sort(),
            password: digests[u.name],
          },
        ]),
    ),
  });
}

/** A route whose access Authelia decides. */
export interface ProtectedRoute {
  host: string;
  /** Groups allowed in; admin routes are `[ADMIN_GROUP]`. */
  groups: string[];
}

export interface AutheliaSettings {
  /** Authelia's own URL (`https://auth.<domain>`). */
  url: string;
  /**
   * The cookie domain: every server's domain is under it, and every route that asks Authelia
   * (the admin routes) needs ADMIN_GROUP unless a group route says otherwise.
   */
  cookieDomain: string;
  /** Routes open to other groups than the admins. */
  groupRoutes: ProtectedRoute[];
}

/**
 * configuration.yml. Access is denied unless a rule allows it; rules are read first-match
 * (docs/content/configuration/security/access-control.md "Rule Matching"), so the routes open
 * to other groups come before the catch-all admin rule for every server's domain. Every rule
 * needs two factors (TOTP or WebAuthn). Only routes whose Traefik router sends them here (the
 * `admin-auth` middleware) are decided by these rules; public services never ask. There is no SMTP: the one-time codes that enrol a
 * second factor are written to a file in the data volume (the filesystem notifier).
 */
export function renderAutheliaConfig(s: AutheliaSettings): string {
  const byHost = [...s.groupRoutes].sort((a, b) => (a.host < b.host ? -1 : 1));
  return stringify({
    theme: "auto",
    default_2fa_method: "totp",
    server: {
      address: `tcp://:${AUTHELIA_PORT}/`,
      // The session cookie only. By default forward-auth tries an Authorization header first
      // (schema/server.go:131-141) and, when it names no user of Authelia's, answers 401 without
      // looking at the cookie (handlers/handler_authz_authn.go:306-320, 428-433); Traefik passes
      // the browser's headers on (traefik pkg/middlewares/auth/forward.go:354), so the Basic
      // login of an app behind the SSO (Gatus) would never get through. It also keeps password
      // guessing off the peers' authz entry point.
      endpoints: {
        authz: {
          "forward-auth": {
            implementation: "ForwardAuth",
            authn_strategies: [{ name: "CookieSession" }],
          },
        },
      },
    },
    log: { level: "info" },
    totp: { issuer: s.cookieDomain },
    webauthn: { disable: false, display_name: "homelab" },
    identity_validation: { reset_password: {} },
    authentication_backend: {
      password_reset: { disable: true },
      file: {
        path: AUTHELIA_PATHS.users,
        watch: true,
        password: {
          algorithm: "argon2",
          argon2: {
            variant: "argon2id",
            iterations: ARGON2.iterations,
            memory: ARGON2.memory,
            parallelism: ARGON2.parallelism,
            key_length: ARGON2.keyLength,
            salt_length: 16,
          },
        },
      },
    },
    access_control: {
      default_policy: "deny",
      rules: [
        ...byHost.map((r) => ({
          domain: [r.host],
          policy: "two_factor",
          subject: [...new Set([...r.groups, ADMIN_GROUP])].sort().map((g) => `group:${g}`),
        })),
        {
          domain: [s.cookieDomain, `*.${s.cookieDomain}`],
          policy: "two_factor",
          subject: [`group:${ADMIN_GROUP}`],
        },
      ],
    },
    session: {
      cookies: [{ domain: s.cookieDomain, authelia_url: s.url }],
    },
    regulation: { max_retries: 5, find_time: "10m", ban_time: "30m" },
    storage: { local: { path: AUTHELIA_PATHS.db } },
    notifier: { filesystem: { filename: AUTHELIA_PATHS.notifications } },
  });
}

/**
 * The cookie domain for an SSO server's domain: its parent (`cloud.example.com` →
 * `example.com`), which must still have a dot, since Authelia refuses a cookie domain without
 * one (internal/configuration/validator/const.go:405).
 */
export function cookieDomainOf(domain: string): string | undefined {
  const parent = domain.split(".").slice(1).join(".");
  return parent.includes(".") ? parent : undefined;
}

/** Whether `host` is `domain` or under it. */
export function underDomain(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/**
 * Traefik's forwardAuth middleware (authelia docs/content/integration/proxies/traefik.md): the
 * address of Authelia's forward-auth endpoint, the client's X-Forwarded-* headers passed on, and
 * the identity headers copied back to the protected service. Authelia's example also sets
 * `maxResponseBodySize`, which the pinned Traefik v3.5.3 does not have (its ForwardAuth struct,
 * pkg/config/dynamic/middlewares.go:245-273, has no such field), so it is left out.
 */
export function forwardAuthMiddleware(address: string): Record<string, unknown> {
  return {
    forwardAuth: {
      address,
      trustForwardHeader: true,
      authResponseHeaders: ["Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name"],
    },
  };
}
