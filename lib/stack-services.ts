/**
 * A whole service declared in `Pulumi.<server>.yaml` (`homelab:services.<name>` with an
 * `image`, for a name `stacks/<server>.ts` does not declare). This module only does what the
 * TypeScript compiler does for a declaration in code: it takes the YAML apart into the
 * `ServiceSpec` shape (objects, lists, strings, booleans, unknown keys). Every value rule
 * (ports, subdomains, images, secrets, volumes, dependencies, retention, …) is checked later by
 * the same code as a declaration from TypeScript (lib/resolve.ts with lib/rules.ts), so both
 * get the same message.
 */
import { NAME_RE, Problems, isRecord, pathKey, unknownKeys } from "./checks";
import {
  BackupSpec,
  DumpSpec,
  EnvValue,
  HookSpec,
  HttpSpec,
  PublishedPort,
  ServiceSpec,
  UPDATE_POLICIES,
  VolumeSpec,
} from "./model";

/** Keys of a service declared in the stack file: those of `ServiceSpec`, and `enabled`. */
export const SERVICE_KEYS = [
  "image",
  "description",
  "group",
  "env",
  "volumes",
  "http",
  "ports",
  "command",
  "user",
  "backup",
  "updates",
  "dependsOn",
  "enabled",
] as const satisfies readonly (keyof ServiceSpec | "enabled")[];
const HTTP_KEYS = [
  "port",
  "subdomain",
  "healthPath",
  "expectStatus",
  "admin",
  "groups",
] as const satisfies readonly (keyof HttpSpec)[];
const VOLUME_KEYS = ["name", "path", "kind"] as const satisfies readonly (keyof VolumeSpec)[];
const PORT_KEYS = [
  "port",
  "hostPort",
  "protocol",
  "check",
] as const satisfies readonly (keyof PublishedPort)[];
const BACKUP_KEYS = [
  "enabled",
  "capture",
  "databases",
  "maxDowntime",
  "hook",
  "schedule",
  "skipVolumes",
  "dump",
  "verifyFiles",
  "keepDaily",
  "keepWeekly",
  "keepMonthly",
] as const satisfies readonly (keyof BackupSpec)[];
const HOOK_KEYS = ["pre", "post", "timeout"] as const satisfies readonly (keyof HookSpec)[];
const DUMP_KEYS = [
  "command",
  "filename",
  "packages",
  "env",
] as const satisfies readonly (keyof DumpSpec)[];

/** A service declared in the stack file, and whether it is enabled there. */
export interface DeclaredService {
  spec: ServiceSpec;
  enabled?: boolean;
}

/**
 * Takes `o` (the value of `homelab:services.<name>`) apart into a `ServiceSpec`; shape problems
 * go to `p` under `path`. Values are passed on as written, for lib/resolve.ts to judge.
 */
export function declaredService(
  p: Problems,
  path: string,
  name: string,
  o: Record<string, unknown>,
): DeclaredService | undefined {
  if (!NAME_RE.test(name)) {
    p.expected(path, "a service name (a lower-case DNS label)", name);
    return undefined;
  }
  unknownKeys(p, path, o, SERVICE_KEYS);
  const s = new Shape(p, path);
  const spec: ServiceSpec = { name, image: o.image as string };
  if (o.description !== undefined) spec.description = s.str("description", o.description);
  // Checked by the rules (a DNS label, not a reserved group).
  if (o.group !== undefined) spec.group = o.group as string;
  if (o.env !== undefined) spec.env = s.env("env", o.env);
  if (o.volumes !== undefined) spec.volumes = s.volumes(o.volumes);
  if (o.http !== undefined) spec.http = s.http(o.http);
  if (o.ports !== undefined) spec.ports = s.ports(o.ports);
  if (o.command !== undefined) spec.command = s.strList("command", o.command);
  if (o.user !== undefined) spec.user = s.str("user", o.user);
  if (o.backup !== undefined) spec.backup = s.backup(o.backup);
  if (o.updates !== undefined) {
    if ((UPDATE_POLICIES as readonly unknown[]).includes(o.updates))
      spec.updates = o.updates as ServiceSpec["updates"];
    else s.oneOf("updates", UPDATE_POLICIES, o.updates);
  }
  if (o.dependsOn !== undefined) spec.dependsOn = s.strList("dependsOn", o.dependsOn);
  const out: DeclaredService = { spec };
  if (o.enabled !== undefined) {
    if (o.enabled === true || o.enabled === "true") out.enabled = true;
    else if (o.enabled === false || o.enabled === "false") out.enabled = false;
    else s.refuse("enabled", "true or false", o.enabled);
  }
  return out;
}

/** A number as `pulumi config set --path` may store it (text), or the value as given. */
function num(v: unknown): unknown {
  return typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
}

/** Shape checks under one path; each returns what it could take apart. */
class Shape {
  constructor(
    private readonly p: Problems,
    private readonly path: string,
  ) {}

  private at(key: string): string {
    return `${this.path}.${key}`;
  }

  refuse(key: string, what: string, v: unknown): void {
    this.p.expected(this.at(key), what, v);
  }

  oneOf(key: string, allowed: readonly string[], v: unknown): void {
    this.p.add(
      this.at(key),
      `expected one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(v)}`,
    );
  }

  str(key: string, v: unknown): string | undefined {
    if (typeof v === "string") return v;
    this.refuse(key, "a string", v);
    return undefined;
  }

  bool(key: string, v: unknown): boolean | undefined {
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    this.refuse(key, "true or false", v);
    return undefined;
  }

  obj(key: string, v: unknown): Record<string, unknown> | undefined {
    if (isRecord(v)) return v;
    this.refuse(key, "an object", v);
    return undefined;
  }

  list(key: string, v: unknown): unknown[] {
    if (Array.isArray(v)) return v;
    this.refuse(key, "a list", v);
    return [];
  }

  strList(key: string, v: unknown): string[] {
    return this.list(key, v).flatMap((x, i) => {
      if (typeof x === "string") return [x];
      this.refuse(`${key}[${i}]`, "a string", x);
      return [];
    });
  }

  /** Plain values (text, numbers, booleans as text) or `{ secret: <name> }`. */
  env(key: string, v: unknown): Record<string, EnvValue> {
    const o = this.obj(key, v) ?? {};
    const out: Record<string, EnvValue> = {};
    for (const [k, x] of Object.entries(o)) {
      if (typeof x === "string" || typeof x === "number" || typeof x === "boolean")
        out[k] = String(x);
      else if (isRecord(x) && Object.keys(x).join() === "secret" && typeof x.secret === "string")
        out[k] = { secret: x.secret };
      else this.refuse(`${key}.${pathKey(k)}`, "a string or { secret: <name> }", x);
    }
    return out;
  }

  volumes(v: unknown): VolumeSpec[] {
    return this.list("volumes", v).flatMap((x, i) => {
      const o = this.obj(`volumes[${i}]`, x);
      if (!o) return [];
      unknownKeys(this.p, this.at(`volumes[${i}]`), o, VOLUME_KEYS);
      const vol = { name: o.name, path: o.path } as VolumeSpec;
      if (o.kind !== undefined) vol.kind = o.kind as VolumeSpec["kind"];
      return [vol];
    });
  }

  http(v: unknown): HttpSpec | undefined {
    const o = this.obj("http", v);
    if (!o) return undefined;
    unknownKeys(this.p, this.at("http"), o, HTTP_KEYS);
    const http: HttpSpec = { port: num(o.port) as number };
    if (o.subdomain !== undefined) http.subdomain = o.subdomain as string;
    if (o.healthPath !== undefined) http.healthPath = o.healthPath as string;
    if (o.expectStatus !== undefined) {
      const n = num(o.expectStatus);
      if (typeof n === "number" && Number.isInteger(n) && n >= 100 && n <= 599)
        http.expectStatus = n;
      else this.refuse("http.expectStatus", "an HTTP status code 100-599", o.expectStatus);
    }
    if (o.admin !== undefined) http.admin = this.bool("http.admin", o.admin);
    if (o.groups !== undefined) http.groups = this.list("http.groups", o.groups) as string[];
    return http;
  }

  ports(v: unknown): PublishedPort[] {
    return this.list("ports", v).flatMap((x, i) => {
      const o = this.obj(`ports[${i}]`, x);
      if (!o) return [];
      unknownKeys(this.p, this.at(`ports[${i}]`), o, PORT_KEYS);
      const port: PublishedPort = { port: num(o.port) as number };
      if (o.hostPort !== undefined) port.hostPort = num(o.hostPort) as number;
      if (o.protocol !== undefined) port.protocol = o.protocol as PublishedPort["protocol"];
      if (o.check !== undefined) port.check = o.check as PublishedPort["check"];
      return [port];
    });
  }

  backup(v: unknown): BackupSpec | undefined {
    const o = this.obj("backup", v);
    if (!o) return undefined;
    unknownKeys(this.p, this.at("backup"), o, BACKUP_KEYS);
    const b: BackupSpec = {};
    if (o.enabled !== undefined) b.enabled = this.bool("backup.enabled", o.enabled);
    // The capture's kind and numbers are checked by the same rules as a TypeScript declaration.
    if (o.capture !== undefined) b.capture = o.capture as BackupSpec["capture"];
    if (o.databases !== undefined)
      b.databases = this.list("backup.databases", o.databases) as string[];
    if (o.maxDowntime !== undefined) b.maxDowntime = num(o.maxDowntime) as number;
    if (o.hook !== undefined) {
      const h = this.obj("backup.hook", o.hook);
      if (h) {
        unknownKeys(this.p, this.at("backup.hook"), h, HOOK_KEYS);
        b.hook = { pre: this.strList("backup.hook.pre", h.pre ?? []) };
        if (h.post !== undefined) b.hook.post = this.strList("backup.hook.post", h.post);
        if (h.timeout !== undefined) b.hook.timeout = num(h.timeout) as number;
      }
    }
    if (o.schedule !== undefined) b.schedule = this.str("backup.schedule", o.schedule);
    if (o.skipVolumes !== undefined)
      b.skipVolumes = this.strList("backup.skipVolumes", o.skipVolumes);
    if (o.verifyFiles !== undefined)
      b.verifyFiles = this.list("backup.verifyFiles", o.verifyFiles) as string[];
    for (const k of ["keepDaily", "keepWeekly", "keepMonthly"] as const)
      if (o[k] !== undefined) b[k] = num(o[k]) as number;
    if (o.dump !== undefined) {
      const d = this.obj("backup.dump", o.dump);
      if (d) {
        unknownKeys(this.p, this.at("backup.dump"), d, DUMP_KEYS);
        const command = this.str("backup.dump.command", d.command);
        const filename = this.str("backup.dump.filename", d.filename);
        if (command !== undefined && filename !== undefined) {
          b.dump = { command, filename };
          if (d.packages !== undefined)
            b.dump.packages = this.list("backup.dump.packages", d.packages) as string[];
          if (d.env !== undefined) b.dump.env = this.env("backup.dump.env", d.env);
        }
      }
    }
    return b;
  }
}
