/**
 * The standard components' own state. Two of them keep in a data volume what their config
 * cannot give back: Authelia its users' second factors, ntfy the tokens users make in its web
 * app. Each is backed up like a service, by a sidecar of its own (`<container>-backup`,
 * repository `<server>/<container>`) with a `sqlite` capture of its databases, replicated and
 * drilled like every other repository. The other components' data volumes are rebuilt, and
 * REBUILT_VOLUMES (components/defaults.ts) says why each may be lost.
 */
import * as path from "node:path";
import { AUTHELIA_PATHS } from "../configs/authelia";
import { NTFY_CONTAINER, NTFY_FILES, NTFY_PATHS } from "../configs/ntfy";
import type { StackConfig } from "../lib/config";
import type { ResolvedBackup } from "../lib/model";
import { AUTHELIA_CONTAINER } from "./authelia";

/** A component whose data volume is backed up: its container name, and the backup job. */
export interface ComponentState {
  name: string;
  backup: ResolvedBackup;
}

/** The short name of a component's data volume: mounted at `/data/data` in its sidecar. */
export const COMPONENT_STATE_VOLUME = "data";

/** A SQLite file of a component, as its backup names it: `data/<path inside the volume>`. */
function inVolume(mount: string, file: string): string {
  return `${COMPONENT_STATE_VOLUME}/${path.posix.relative(mount, file)}`;
}

/**
 * The components on this server whose state is backed up, with the stack's backup schedule and
 * retention (homelab:backupSchedule, keepDaily…): Authelia and ntfy, where they run. Their
 * databases are written while they run, so they are copied with `capture: sqlite`
 * (configs/backup.ts capture_sqlite), never as plain files. Sources, read for this: Authelia
 * v4.39.20 keeps TOTP secrets and WebAuthn credentials in its SQLite file, encrypted with
 * storage.encryption_key, in a rollback journal (internal/storage/sql_provider_encryption.go,
 * sql_provider_backend_sqlite.go:20, no journal_mode set); ntfy writes the configured users,
 * grants and tokens into user.db at every start, but a token a user creates in the web app
 * (POST /v1/account/token) lives only there (user/manager.go
 * maybeProvisionUsersAccessAndTokens; server/server_account.go:216,237 at v2.13.0), and
 * cache.db holds the messages of the last cache-duration.
 */
export function componentStates(cfg: StackConfig): ComponentState[] {
  const sqlite = (databases: string[]): ResolvedBackup => ({
    capture: { kind: "sqlite", databases },
    schedule: cfg.backup.schedule,
    checkSchedule: cfg.backup.checkSchedule,
    drillSchedule: cfg.backup.drillSchedule,
    retention: {
      keepDaily: cfg.backup.keepDaily,
      keepWeekly: cfg.backup.keepWeekly,
      keepMonthly: cfg.backup.keepMonthly,
    },
    volumes: [COMPONENT_STATE_VOLUME],
    verifyFiles: [],
  });
  return [
    ...(cfg.sso.server === cfg.stack
      ? [
          {
            name: AUTHELIA_CONTAINER,
            backup: sqlite([inVolume(AUTHELIA_PATHS.data, AUTHELIA_PATHS.db)]),
          },
        ]
      : []),
    ...(cfg.ntfy.server === cfg.stack
      ? [
          {
            name: NTFY_CONTAINER,
            backup: sqlite(
              [NTFY_FILES.auth, NTFY_FILES.cache].map((f) => inVolume(NTFY_PATHS.data, f)).sort(),
            ),
          },
        ]
      : []),
  ];
}
