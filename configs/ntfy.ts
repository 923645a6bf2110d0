/**
 * ntfy's server.yml: private by default (deny-all, no signup), behind the proxy, with users,
 * access rules and tokens declared (ntfy ≥ 2.14) instead of created by hand.
 */
import { stringify } from "yaml";
import { byText } from "../lib/order";

/** A declared ntfy user. */
export interface NtfyUser {
  name: string;
  /** bcrypt hash of the password. */
  passwordBcrypt: string;
  role: "admin" | "user";
  /** `topic:permission` rules, permission one of read-only, write-only, read-write. */
  access: { topic: string; permission: "read-only" | "write-only" | "read-write" }[];
  /** Access token (`tk_` + 29 characters). */
  token?: string;
}

/** Paths inside the ntfy container. */
export const NTFY_PATHS = { config: "/etc/ntfy/server.yml", data: "/var/lib/ntfy" } as const;

/** ntfy's container name, and its two SQLite files in the data volume. */
export const NTFY_CONTAINER = "ntfy";
export const NTFY_FILES = {
  cache: `${NTFY_PATHS.data}/cache.db`,
  auth: `${NTFY_PATHS.data}/user.db`,
} as const;

/** server.yml. Users sorted by name; contains hashes and tokens, so it is uploaded as a secret. */
export function renderNtfyConfig(baseUrl: string, users: NtfyUser[]): string {
  const sorted = [...users].sort((a, b) => byText(a.name, b.name));
  return stringify({
    "base-url": baseUrl,
    "listen-http": ":80",
    "behind-proxy": true,
    "cache-file": NTFY_FILES.cache,
    "cache-duration": "24h",
    "auth-file": NTFY_FILES.auth,
    "auth-default-access": "deny-all",
    "enable-signup": false,
    "enable-login": true,
    "upstream-base-url": "https://ntfy.sh",
    "auth-users": sorted.map((u) => `${u.name}:${u.passwordBcrypt}:${u.role}`),
    "auth-access": sorted.flatMap((u) =>
      u.access.map((a) => `${u.name}:${a.topic}:${a.permission}`),
    ),
    "auth-tokens": sorted.flatMap((u) => (u.token ? [`${u.name}:${u.token}:homelab`] : [])),
  });
}

/** The topic server S sends its alerts to. */
export function alertTopic(prefix: string, server: string): string {
  return `${prefix}-${server}`;
}
