/**
 * home — the primary server (Fedora, behind the home router): photos, passwords and home
 * automation. Everything stateful is backed up and replicated to cloud and offsite.
 */
import type { ServerDeclaration, StackContext } from "./types";

export default function home({ domain }: StackContext): ServerDeclaration {
  return {
    role: "primary services: photos, passwords, home automation",
    secrets: ["immich-db-password"],
    services: [
      {
        name: "immich",
        description: "Immich photo library",
        image: "ghcr.io/immich-app/immich-server:v1.135.3", // unconfirmed: github:immich-app/immich is too large to fetch here
        group: "immich",
        http: { port: 2283, subdomain: "photos", healthPath: "/api/server/ping" },
        env: {
          DB_DATABASE_NAME: "immich",
          DB_HOSTNAME: "immich-db",
          DB_PASSWORD: { secret: "immich-db-password" },
          DB_USERNAME: "immich",
          REDIS_HOSTNAME: "immich-redis",
        },
        volumes: [{ name: "library", path: "/usr/src/app/upload" }],
        // Uploads are written once and then only read: plain files. The database is its own
        // service (immich-db, a dump). Immich writes a .immich marker into each upload folder:
        // a restore must bring it back.
        backup: { capture: "files", verifyFiles: ["library/library/.immich"] },
        // Immich ships breaking changes in minor releases: bumped by hand, after reading the notes.
        updates: "pinned",
        dependsOn: ["immich-db", "immich-redis"],
      },
      {
        name: "immich-db",
        description: "Postgres of Immich (vector extensions)",
        image: "ghcr.io/immich-app/postgres:14-vectorchord0.4.3-pgvectors0.2.0", // unconfirmed: a build-matrix tag of immich-app/base-images, not a git tag
        group: "immich",
        env: {
          POSTGRES_DB: "immich",
          POSTGRES_INITDB_ARGS: "--data-checksums",
          POSTGRES_PASSWORD: { secret: "immich-db-password" },
          POSTGRES_USER: "immich",
        },
        volumes: [{ name: "pgdata", path: "/var/lib/postgresql/data" }],
        // A live data directory is not a consistent backup; a dump is.
        backup: {
          capture: "dump",
          skipVolumes: ["pgdata"],
          dump: {
            command: "pg_dump --clean --if-exists -h immich-db -U immich immich",
            filename: "immich.sql",
            // A newer client dumps an older server fine; restoring needs one line dropped
            // (docs/restore.md).
            packages: ["postgresql17-client"],
            env: { PGPASSWORD: { secret: "immich-db-password" } },
          },
        },
        updates: "pinned",
      },
      {
        name: "immich-redis",
        description: "Valkey cache of Immich",
        image: "docker.io/valkey/valkey:8-bookworm", // unconfirmed: a moving major-version tag of valkey-io/valkey-container (a cache: notify)
        group: "immich",
        updates: "notify",
      },
      {
        name: "vaultwarden",
        description: "Vaultwarden password manager",
        image: "vaultwarden/server:1.34.3", // source: github:dani-garcia/vaultwarden tag 1.34.3
        http: { port: 80, subdomain: "vault", healthPath: "/alive" },
        env: {
          DOMAIN: `https://vault.${domain}`,
          SIGNUPS_ALLOWED: "false",
          WEBSOCKET_ENABLED: "true",
        },
        volumes: [{ name: "data", path: "/data" }],
        // WAL-mode SQLite (vaultwarden 1.34.3 src/config.rs:626-628, src/db/mod.rs:447-449),
        // copied online; attachments, sends, config.json and rsa_key.pem as files (the
        // project's wiki "Backing up your vault").
        backup: { capture: "sqlite", databases: ["data/db.sqlite3"] },
        updates: "pinned",
      },
      {
        name: "home-assistant",
        description: "Home Assistant",
        image: "ghcr.io/home-assistant/home-assistant:2025.11.3", // unconfirmed: github:home-assistant/core is too large to fetch here
        http: { port: 8123, subdomain: "ha" },
        volumes: [{ name: "config", path: "/config" }],
        // The recorder's WAL-mode SQLite database (https://www.home-assistant.io/integrations/recorder/),
        // copied online; the rest of /config (YAML, .storage) as files.
        backup: {
          capture: "sqlite",
          databases: ["config/home-assistant_v2.db"],
          verifyFiles: ["config/configuration.yaml"],
        },
        // Monthly releases; a notification, then a reviewed bump.
        updates: "notify",
      },
    ],
  };
}
