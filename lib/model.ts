/**
 * The declaration model: what a server runs, as written in `stacks/<server>.ts`, and the
 * resolved form the components receive after defaults and stack-config overrides are applied.
 */

/** A value that must not be written in code: generated once per server and kept secret. */
export interface SecretRef {
  /** Name of a generated secret declared in `ServerDeclaration.secrets`. */
  secret: string;
}

/** An environment value: plain text, or a reference to a generated secret. */
export type EnvValue = string | SecretRef;

/** Who updates a service's image. Exactly one owner per container, see README "Image updates". */
export type UpdatePolicy = "pinned" | "notify" | "auto";
export const UPDATE_POLICIES: readonly UpdatePolicy[] = ["pinned", "notify", "auto"];

/** How a directly published port is watched: TCP connect, STARTTLS handshake or implicit TLS. */
export type PortCheck = "tcp" | "starttls" | "tls" | "none";
export const PORT_CHECKS: readonly PortCheck[] = ["tcp", "starttls", "tls", "none"];

/** A named volume of a service. */
export interface VolumeSpec {
  /** Short name, unique within the service; the Docker volume is `<service>-<name>`. */
  name: string;
  /** Mount path inside the container. */
  path: string;
  /** `data` survives destroy and is backed up; `cache` is disposable. @default "data" */
  kind?: "data" | "cache";
}

/** HTTP exposure through Traefik at `<subdomain>.<domain>`. */
export interface HttpSpec {
  /** Port the container listens on. */
  port: number;
  /** Subdomain of the server's domain. @default the service name */
  subdomain?: string;
  /** Path Gatus requests to decide the service is up. @default "/" */
  healthPath?: string;
  /** Status code the health path answers with. @default 200 */
  expectStatus?: number;
  /** An admin UI: Traefik puts admin auth in front of it (the single sign-on, else basic auth). @default false */
  admin?: boolean;
  /**
   * With single sign-on: also let members of these groups in (e.g. `["family"]`); the route
   * goes through the SSO like an admin UI, and its access rule allows these groups and the
   * admins. @default []
   */
  groups?: string[];
}

/** A host port published directly (not through Traefik), e.g. SMTP or IMAP. */
export interface PublishedPort {
  /** Port inside the container. */
  port: number;
  /** Port on the host. @default port */
  hostPort?: number;
  /** @default "tcp" */
  protocol?: "tcp" | "udp";
  /** How Gatus (local and peers) checks it. @default "tcp" */
  check?: PortCheck;
}

/** A database dump streamed into restic with `--stdin-from-command`. */
export interface DumpSpec {
  /** Shell command (run by `sh -c` in the backup sidecar) that writes the dump to stdout. */
  command: string;
  /** File name of the dump inside the snapshot. */
  filename: string;
  /** Alpine packages the sidecar installs for the dump tool (e.g. `postgresql16-client`). */
  packages?: string[];
  /** Environment for the dump command (written to a secret file, never to labels). */
  env?: Record<string, EnvValue>;
}

/**
 * How a service's data is captured consistently while it may be written (docs/restore.md):
 * - `files`: plain files with no live writer (declared on purpose), copied as they are;
 * - `sqlite`: the SQLite files in `databases` are copied online (`VACUUM INTO`) and checked
 *   with `PRAGMA integrity_check`; the rest of the volumes is copied as files;
 * - `dump`: `dump` is streamed into restic (a database server);
 * - `stop`: the service's containers (its whole group) are stopped while the snapshot runs,
 *   then always started again;
 * - `hook`: `hook.pre` runs in the service's container before the snapshot (e.g. an
 *   application's own export), `hook.post` after it.
 */
export type CaptureKind = "files" | "sqlite" | "dump" | "stop" | "hook";
export const CAPTURE_KINDS: readonly CaptureKind[] = ["files", "sqlite", "dump", "stop", "hook"];

/** Commands run in the service's own container around a snapshot (`capture: "hook"`). */
export interface HookSpec {
  /** Command (argv) run before the snapshot; the snapshot is taken only when it exits 0. */
  pre: string[];
  /** Command (argv) run after the snapshot, whatever its outcome (e.g. remove the export). */
  post?: string[];
  /** Seconds each command may run before the job gives up on it. @default 600 */
  timeout?: number;
}

/** Backup settings of a service; a service with data volumes is backed up unless `enabled: false`. */
export interface BackupSpec {
  /** @default true when the service has data volumes or a dump */
  enabled?: boolean;
  /**
   * How the data is captured consistently. Required whenever something is backed up: there is
   * no default, because only the service's author knows whether its files are written live.
   */
  capture?: CaptureKind;
  /** `capture: "sqlite"`: the live SQLite databases, as `<volume>/<path>`. */
  databases?: string[];
  /** `capture: "stop"`: longest the service may stay stopped, in seconds. @default 300 */
  maxDowntime?: number;
  /** `capture: "hook"`: the commands. */
  hook?: HookSpec;
  /** Cron schedule (5 fields) of the backup. @default stack `backupSchedule` */
  schedule?: string;
  /** Data volumes NOT copied as files (e.g. a database covered by `dump`). */
  skipVolumes?: string[];
  /** `capture: "dump"`: the dump streamed into the repository (alongside any files). */
  dump?: DumpSpec;
  /** Files that must exist in a restored snapshot, as `<volume>/<path>` (checked by the restore drill). */
  verifyFiles?: string[];
  /** Retention overrides. */
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

/** One declaration per service: everything else (route, monitors, backup, updates) is derived. */
export interface ServiceSpec {
  /** Unique name on the server; also the container name and default subdomain. */
  name: string;
  /** Image reference with an explicit tag. */
  image: string;
  /** Services sharing a group share a private network (e.g. an app and its database). */
  group?: string;
  /** Plain or secret environment. */
  env?: Record<string, EnvValue>;
  /** Named volumes. */
  volumes?: VolumeSpec[];
  /** Exposure through Traefik. */
  http?: HttpSpec;
  /** Host ports published directly. */
  ports?: PublishedPort[];
  /** Container command. */
  command?: string[];
  /** Container user (`uid:gid`). */
  user?: string;
  /** Backup settings. */
  backup?: BackupSpec;
  /** Image update owner. @default "pinned" for stateful services, "notify" otherwise */
  updates?: UpdatePolicy;
  /** Services (by name) that must be created first. */
  dependsOn?: string[];
  /** Human description shown in the summary. */
  description?: string;
}

/** What `stacks/<server>.ts` exports. */
export interface ServerDeclaration {
  /** The server's role, for the summary. */
  role: string;
  /** Local services. */
  services: ServiceSpec[];
  /** Generated secrets (random, 32 chars) that services refer to with `{ secret: name }`. */
  secrets?: string[];
}

/** Per-service overrides allowed in `Pulumi.<server>.yaml` under `homelab:services`. */
export interface ServiceOverride {
  enabled?: boolean;
  image?: string;
  env?: Record<string, string>;
  subdomain?: string;
  updates?: UpdatePolicy;
  backupSchedule?: string;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

/** Retention of a restic repository. */
export interface Retention {
  keepDaily: number;
  keepWeekly: number;
  keepMonthly: number;
}

/** A service after defaults and overrides: every optional decision made. */
export interface ResolvedService {
  name: string;
  image: string;
  group?: string;
  env: Record<string, EnvValue>;
  volumes: Required<VolumeSpec>[];
  http?: Required<HttpSpec>;
  ports: Required<PublishedPort>[];
  command?: string[];
  user?: string;
  backup?: ResolvedBackup;
  updates: UpdatePolicy;
  dependsOn: string[];
  description: string;
}

/** A resolved capture: the kind and what it needs. */
export type ResolvedCapture =
  | { kind: "files" }
  | { kind: "sqlite"; databases: string[] }
  | { kind: "dump" }
  | { kind: "stop"; maxDowntime: number; containers: string[] }
  | { kind: "hook"; pre: string[]; post?: string[]; timeout: number };

/** A resolved backup job. */
export interface ResolvedBackup {
  capture: ResolvedCapture;
  schedule: string;
  checkSchedule: string;
  drillSchedule: string;
  retention: Retention;
  /** Short names of the data volumes copied as files, sorted. */
  volumes: string[];
  dump?: DumpSpec;
  verifyFiles: string[];
}

export function isSecretRef(v: EnvValue): v is SecretRef {
  return typeof v === "object" && v !== null && typeof v.secret === "string";
}
