/**
 * Shared defaults of every server: the first of the three layers
 * (component defaults → stacks/<server>.ts → Pulumi.<server>.yaml). Change a default here once.
 */

/** Pinned images of the standard components. Bump deliberately; see README "Image updates". */
export const IMAGES = {
  traefik: "traefik:v3.5.3", // source: github:traefik/traefik tag v3.5.3
  socketProxy: "ghcr.io/tecnativa/docker-socket-proxy:v0.4.2", // unconfirmed: the stored snapshot of github:Tecnativa/docker-socket-proxy ends at v0.4.1 (2025-09-05); not downgraded on that
  gatus: "twinproduction/gatus:v5.25.2", // source: github:TwiN/gatus tag v5.25.2
  // The stored snapshot of the repository ends at v2.13.0 (2025-07-19), before this release.
  ntfy: "binwiederhier/ntfy:v2.14.0", // unconfirmed: github:binwiederhier/ntfy tag v2.14.0 not in the stored snapshot
  syncthing: "syncthing/syncthing:1.29.5", // source: github:syncthing/syncthing tag v1.29.5
  // The containrrr image is archived and fails on Docker 29; this is the maintained fork.
  watchtower: "nickfedor/watchtower:1.22.3", // unconfirmed: the stored snapshot of github:nicholas-fedor/watchtower ends at v1.21.0 (2026-08-21); not downgraded on that
  restic: "restic/restic:0.18.0", // source: github:restic/restic tag v0.18.0
  // Released images are tagged with the git tag without its "v" (.buildkite/pipeline.sh:113).
  authelia: "authelia/authelia:4.39.20", // source: github:authelia/authelia tag v4.39.20
  homepage: "ghcr.io/gethomepage/homepage:v1.12.3", // source: github:gethomepage/homepage tag v1.12.3
} as const;

/** Subdomains the standard components take on every server. */
export const SYSTEM_SUBDOMAINS = {
  traefik: "traefik",
  gatus: "status",
  syncthing: "sync",
  ntfy: "ntfy",
  sso: "auth",
  homepage: "homepage",
} as const;

/** Container names the standard components take on every server (a test keeps this list true). */
export const SYSTEM_CONTAINERS = [
  "authelia",
  "authelia-backup",
  "backup-layout",
  "backup-replicas",
  "gatus",
  "homepage",
  "ntfy",
  "ntfy-backup",
  "syncthing",
  "traefik",
  "traefik-socket-proxy",
  "watchtower",
] as const;

/** Docker volume names the standard components take on every server. */
export const SYSTEM_VOLUMES = [
  "authelia-data",
  "gatus-data",
  "homelab-backups",
  "ntfy-data",
  "syncthing-index",
  "traefik-acme",
] as const;

/**
 * The host paths containers may mount, each on purpose: the Docker socket for the socket proxy
 * (read-only, components/traefik.ts) and for Watchtower (monitor-only, components/watchtower.ts).
 * Services cannot declare host paths at all (named volumes only); the docker-socket guardrail
 * reports any other host-path mount.
 */
export const HOST_MOUNTS: readonly { role: string; hostPath: string }[] = [
  { role: "socket-proxy", hostPath: "/var/run/docker.sock" },
  { role: "watchtower", hostPath: "/var/run/docker.sock" },
  // A backup job's own proxy (capture: stop or hook), which passes only its stop/start or exec
  // requests (components/backup-proxy.ts; the docker-socket guardrail checks its scope).
  { role: "backup-proxy", hostPath: "/var/run/docker.sock" },
];

/** Group names that would collide with the standard networks (`homelab-<group>`). */
export const RESERVED_GROUPS = ["proxy", "socket"] as const;

/** Host ports the standard components publish on every server. */
export const SYSTEM_PORTS: readonly { port: number; protocol: "tcp" | "udp"; owner: string }[] = [
  { port: 80, protocol: "tcp", owner: "traefik" },
  { port: 443, protocol: "tcp", owner: "traefik" },
  { port: 22000, protocol: "tcp", owner: "syncthing" },
  { port: 22000, protocol: "udp", owner: "syncthing" },
];

/** Every container restarts unless stopped by hand. */
export const RESTART_POLICY = "unless-stopped";

/** Every container rotates its logs: at most 3 × 10 MB on disk. */
export const LOG_DRIVER = "json-file";
export const LOG_OPTS: Record<string, string> = { "max-file": "3", "max-size": "10m" };

/** Docker networks every server has. */
export const NETWORKS = {
  /** Traefik and every routed service. */
  proxy: "homelab-proxy",
  /** Traefik and the read-only socket proxy only; internal (no outside route). */
  socket: "homelab-socket",
} as const;

/** The Docker volume that holds restic repositories (this server's and replicas of peers'). */
export const BACKUP_VOLUME = "homelab-backups";
/** Where the backup volume is mounted in sidecars and Syncthing. */
export const BACKUP_MOUNT = "/backups";

/** Syncthing listens here; peers dial `tcp://<host>:22000`. */
export const SYNCTHING_PORT = 22000;

/** Labels Watchtower reads. */
export const WATCHTOWER_LABELS = {
  enable: "com.centurylinklabs.watchtower.enable",
  monitorOnly: "com.centurylinklabs.watchtower.monitor-only",
  scope: "com.centurylinklabs.watchtower.scope",
} as const;

/** Versions of replicas kept by Syncthing (staggered versioning) on receive-only folders, in days. */
export const REPLICA_VERSIONS_MAX_AGE_DAYS = 30;

/** Default health path and status of routed services. */
export const HTTP_DEFAULTS = { healthPath: "/", expectStatus: 200, admin: false } as const;

/** The certificate must stay valid this long, or Gatus alerts. */
export const CERT_MIN_VALIDITY = "168h";

/**
 * The standard components' data volumes that have no backup, and why losing one loses nothing
 * a new deployment does not make again. The `backed-up` guardrail requires a backup of every
 * other data volume.
 */
export const REBUILT_VOLUMES: Readonly<Record<string, string>> = {
  [BACKUP_VOLUME]:
    "the backups themselves: Syncthing replicates them to the peers, which verify them (guardrails replicated and drilled-elsewhere)",
  "gatus-data":
    "Gatus' monitoring history: results and events trimmed to its maximum counts, uptimes of about 30 days (TwiN/gatus v5.25.2 storage/store/sql/sql.go:36-39, 343-359); a new Gatus watches the same endpoints from an empty history",
  "traefik-acme":
    "acme.json: Traefik creates it empty when it is missing and asks Let's Encrypt for a new account and every certificate again (traefik v3.5.6, the pinned v3.5.3's line: pkg/provider/acme/local_store_unix.go:12-21, provider.go:443-450, 706-736), within Let's Encrypt's limits of 50 certificates per registered domain and 5 per identical set of names a week (letsencrypt.org/docs/rate-limits)",
};
