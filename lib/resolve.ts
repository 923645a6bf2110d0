/**
 * The three layers, merged: component defaults → `stacks/<server>.ts` → `Pulumi.<server>.yaml`.
 * The result is checked as a whole (names, subdomains, ports, references) and every problem is
 * reported at once, in the same `ConfigError` as the stack config.
 */
import {
  HTTP_DEFAULTS,
  NETWORKS,
  RESERVED_GROUPS,
  SYSTEM_CONTAINERS,
  SYSTEM_PORTS,
  SYSTEM_SUBDOMAINS,
  SYSTEM_VOLUMES,
} from "../components/defaults";
import {
  ENV_NAME_RE,
  GROUP_RE,
  IMAGE_RE,
  NAME_RE,
  Problems,
  cronProblem,
  didYouMean,
  show,
} from "./checks";
import { pgDumpFormat } from "../configs/backup";
import { backupProxyName, usesDockerApi } from "../configs/docker-proxy";
import { ConfigError, StackConfig } from "./config";
import {
  CAPTURE_KINDS,
  EnvValue,
  PORT_CHECKS,
  ResolvedBackup,
  ResolvedService,
  ServerDeclaration,
  ServiceSpec,
  isSecretRef,
} from "./model";
import { byKey, byText } from "./order";
import {
  checkHealthPath,
  checkPackage,
  checkRetention,
  checkRetentionNumber,
  checkSecretName,
  checkSubdomain,
  checkVerifyFile,
} from "./rules";

/** Merges the layers and checks the result; throws `ConfigError` listing every problem. */
export function resolveServices(decl: ServerDeclaration, cfg: StackConfig): ResolvedService[] {
  const p = new Problems();
  const secrets = decl.secrets ?? [];
  const names = new Set<string>();
  for (const [i, s] of decl.services.entries()) {
    if (!NAME_RE.test(s.name)) p.expected(`services[${i}].name`, "a lower-case DNS label", s.name);
    else if (names.has(s.name))
      p.add(`services.${s.name}`, `declared twice in stacks/${cfg.stack}.ts`);
    names.add(s.name);
  }
  const enabled = decl.services.filter((s) => cfg.services[s.name]?.enabled ?? true);
  checkSecrets(secrets, p);
  const resolved = enabled.map((s) => resolveOne(s, cfg, p));
  for (const s of enabled) checkSpec(s, p, secrets, [...names]);
  for (const s of enabled) checkGroups(s, p, cfg);
  for (const s of resolved) checkOverridesApply(s, cfg, p);
  checkUnique(resolved, p, cfg);
  checkDockerNames(resolved, p);
  checkCycles(resolved, p);
  fillStopContainers(resolved, p);
  const enabledNames = resolved.map((s) => s.name);
  for (const s of resolved) {
    for (const d of s.dependsOn) {
      if (names.has(d) && !enabledNames.includes(d)) {
        p.add(
          `services.${s.name}.dependsOn`,
          `"${d}" is disabled in Pulumi.${cfg.stack}.yaml; enable it or disable ${s.name} too`,
        );
      }
    }
  }
  if (!p.empty) throw new ConfigError(cfg.stack, p.lines);
  return resolved.sort((a, b) => byText(a.name, b.name));
}

function resolveOne(s: ServiceSpec, cfg: StackConfig, p: Problems): ResolvedService {
  const o = cfg.services[s.name] ?? {};
  const volumes = (s.volumes ?? []).map((v) => ({
    name: v.name,
    path: v.path,
    kind: v.kind ?? "data",
  }));
  const stateful = volumes.some((v) => v.kind === "data") || s.backup?.dump !== undefined;
  const env: Record<string, EnvValue> = { ...(s.env ?? {}), ...(o.env ?? {}) };
  return {
    name: s.name,
    image: o.image ?? s.image,
    group: s.group,
    env: Object.fromEntries(Object.entries(env).sort(byKey)),
    volumes: volumes.sort((a, b) => byText(a.name, b.name)),
    http: s.http && {
      port: s.http.port,
      subdomain: o.subdomain ?? s.http.subdomain ?? s.name,
      healthPath: s.http.healthPath ?? HTTP_DEFAULTS.healthPath,
      expectStatus: s.http.expectStatus ?? HTTP_DEFAULTS.expectStatus,
      admin: s.http.admin ?? HTTP_DEFAULTS.admin,
      groups: [...new Set(s.http.groups ?? [])].sort(),
    },
    ports: (s.ports ?? []).map((x) => ({
      port: x.port,
      hostPort: x.hostPort ?? x.port,
      protocol: x.protocol ?? "tcp",
      check: x.check ?? "tcp",
    })),
    command: s.command,
    user: s.user,
    backup: resolveBackup(s, cfg, p, volumes),
    updates: o.updates ?? s.updates ?? (stateful ? "pinned" : "notify"),
    dependsOn: [...(s.dependsOn ?? [])].sort(),
    description: s.description ?? s.name,
  };
}

/** Longest downtime a `stop` capture allows by default, in seconds. */
export const DEFAULT_MAX_DOWNTIME = 300;
/** Longest a hook command may run by default, in seconds. */
export const DEFAULT_HOOK_TIMEOUT = 600;
/** The bounds of `maxDowntime` and `hook.timeout`, in seconds (a day). */
const SECONDS_MAX = 86_400;

function resolveBackup(
  s: ServiceSpec,
  cfg: StackConfig,
  p: Problems,
  volumes: { name: string; path: string; kind: string }[],
): ResolvedBackup | undefined {
  const b = s.backup ?? {};
  const o = cfg.services[s.name] ?? {};
  const at = `services.${s.name}.backup`;
  const skip = b.skipVolumes ?? [];
  for (const [i, v] of skip.entries()) {
    if (!volumes.some((x) => x.name === v)) {
      p.add(
        `${at}.skipVolumes[${i}]`,
        `no volume "${v}"${didYouMean(
          v,
          volumes.map((x) => x.name),
        )}`,
      );
    }
  }
  const files = volumes
    .filter((v) => v.kind === "data" && !skip.includes(v.name))
    .map((v) => v.name)
    .sort();
  const wanted = b.enabled ?? (files.length > 0 || b.dump !== undefined);
  if (!wanted) return undefined;
  if (files.length === 0 && b.dump === undefined) {
    p.add(at, "enabled but there is nothing to back up: add a data volume or a dump");
    return undefined;
  }
  const capture = resolveCapture(s, p, files);
  const schedule = o.backupSchedule ?? b.schedule ?? cfg.backup.schedule;
  const cron = cronProblem(schedule);
  if (cron)
    p.add(
      `${at}.schedule`,
      `expected a 5-field cron schedule like "0 3 * * *", got ${show(schedule)} (${cron})`,
    );
  const retention = {
    keepDaily: o.keepDaily ?? b.keepDaily ?? cfg.backup.keepDaily,
    keepWeekly: o.keepWeekly ?? b.keepWeekly ?? cfg.backup.keepWeekly,
    keepMonthly: o.keepMonthly ?? b.keepMonthly ?? cfg.backup.keepMonthly,
  };
  checkRetention(p, `services.${s.name}`, retention);
  const databases = capture?.kind === "sqlite" ? capture.databases : [];
  for (const [i, f] of (b.verifyFiles ?? []).entries()) {
    checkVerifyFile(p, `${at}.verifyFiles[${i}]`, f, files);
    if (databases.includes(f))
      p.add(
        `${at}.verifyFiles[${i}]`,
        `"${f}" is one of backup.databases, which the drill checks itself (PRAGMA integrity_check of the restored copy): remove it from verifyFiles`,
      );
  }
  return {
    capture: capture ?? { kind: "files" },
    schedule,
    checkSchedule: cfg.backup.checkSchedule,
    drillSchedule: cfg.backup.drillSchedule,
    retention,
    volumes: files,
    dump: b.dump,
    verifyFiles: [...(b.verifyFiles ?? [])].sort(),
  };
}

const CAPTURE_HELP = `"files" (no live writer), "sqlite" (with databases), "dump" (with dump), "stop" (the service is stopped while the snapshot runs) or "hook" (with hook); see docs/restore.md`;

/**
 * The capture of a backup: declared, with exactly the settings its kind takes. A field of
 * another kind is a mistake, not a no-op (a `dump` under `capture: files` would never run).
 */
function resolveCapture(
  s: ServiceSpec,
  p: Problems,
  files: string[],
): ResolvedBackup["capture"] | undefined {
  const b = s.backup ?? {};
  const at = `services.${s.name}.backup`;
  const kind = b.capture;
  if (kind === undefined) {
    p.add(
      `${at}.capture`,
      `missing: say how ${s.name}'s data is captured consistently while it runs: ${CAPTURE_HELP}`,
    );
    return undefined;
  }
  if (!(CAPTURE_KINDS as readonly unknown[]).includes(kind)) {
    p.add(`${at}.capture`, `expected one of ${CAPTURE_HELP}, got ${show(kind)}`);
    return undefined;
  }
  const owners = {
    dump: "dump",
    databases: "sqlite",
    maxDowntime: "stop",
    hook: "hook",
  } as const;
  let ok = true;
  for (const [field, owner] of Object.entries(owners)) {
    if (b[field as keyof typeof owners] !== undefined && kind !== owner) {
      p.add(
        `${at}.${field}`,
        `only applies to capture: "${owner}" (this one is "${kind}"): remove it, or set capture: "${owner}"`,
      );
      ok = false;
    }
  }
  if (!ok) return undefined;
  switch (kind) {
    case "files":
      return { kind };
    case "dump":
      if (b.dump === undefined) {
        p.add(`${at}.dump`, `capture: "dump" needs a dump (command and filename)`);
        return undefined;
      }
      // The job keeps what the command writes to its standard output (restic
      // --stdin-from-command); pg_dump's directory format writes files instead, and without -f
      // it stops with "no output directory specified" (pg_dump 15.18, tried).
      if (typeof b.dump.command === "string" && pgDumpFormat(b.dump.command) === "directory") {
        p.add(
          `${at}.dump.command`,
          `pg_dump's directory format (-Fd) writes a directory, not the standard output the backup keeps: use the plain format (the default) or -Fc`,
        );
        return undefined;
      }
      return { kind };
    case "sqlite": {
      const dbs = b.databases ?? [];
      if (!Array.isArray(dbs) || dbs.length === 0) {
        p.add(
          `${at}.databases`,
          `capture: "sqlite" needs the live SQLite files as "<volume>/<path>", e.g. ["data/db.sqlite3"]`,
        );
        return undefined;
      }
      const before = p.lines.length;
      for (const [i, f] of dbs.entries()) checkVerifyFile(p, `${at}.databases[${i}]`, f, files);
      if (new Set(dbs).size !== dbs.length) p.add(`${at}.databases`, "lists a file twice");
      if (p.lines.length > before) return undefined;
      return { kind, databases: [...dbs].sort() };
    }
    case "stop": {
      const max = b.maxDowntime ?? DEFAULT_MAX_DOWNTIME;
      if (!checkSeconds(p, `${at}.maxDowntime`, max)) return undefined;
      // The containers are the service's group, filled in once every service is resolved.
      return { kind, maxDowntime: max, containers: [s.name] };
    }
    case "hook": {
      const h = b.hook;
      if (h === undefined || !isArgv(h.pre)) {
        p.add(
          `${at}.hook.pre`,
          `capture: "hook" needs hook.pre, the command (a list of words, e.g. ["/app/export", "/data/export"]) that writes a consistent copy`,
        );
        return undefined;
      }
      if (h.post !== undefined && !isArgv(h.post)) {
        p.expected(`${at}.hook.post`, "a command as a non-empty list of words", h.post);
        return undefined;
      }
      const timeout = h.timeout ?? DEFAULT_HOOK_TIMEOUT;
      if (!checkSeconds(p, `${at}.hook.timeout`, timeout)) return undefined;
      return { kind, pre: h.pre, ...(h.post ? { post: h.post } : {}), timeout };
    }
  }
}

function isArgv(v: unknown): v is string[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.every((w) => typeof w === "string" && w.length > 0 && !/[\0\n]/.test(w))
  );
}

function checkSeconds(p: Problems, path: string, v: unknown): v is number {
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= SECONDS_MAX) return true;
  p.expected(path, `a whole number of seconds, 1-${SECONDS_MAX}`, v);
  return false;
}

/**
 * A `stop` capture stops the service's whole group: an app and its database are one unit. In
 * start order (each after what it depends on); the job stops them in the reverse order.
 */
function fillStopContainers(services: ResolvedService[], p: Problems): void {
  for (const s of services) {
    const c = s.backup?.capture;
    // An exec is created on a container looked up the same way (moby daemon/exec.go
    // ContainerExecCreate → getActiveContainer → GetContainer): the hook would run elsewhere.
    if (c?.kind === "hook" && /^[0-9a-f]+$/.test(s.name))
      p.add(
        `services.${s.name}`,
        `"${s.name}" runs its backup hook by container name (capture: "hook"), and a name of hex digits only could be read by Docker as the start of another container's ID: rename it (e.g. "${s.name}-app")`,
      );
    if (c?.kind !== "stop") continue;
    const members = s.group ? services.filter((x) => x.group === s.group) : [s];
    c.containers = startOrder(members);
    // The group is stopped while this snapshot runs: another stop capture in it would start it
    // under this one's snapshot, and another backup at the same time finds its service down
    // (a dump cannot connect to a stopped database).
    for (const m of members.filter((x) => x !== s && x.backup)) {
      if (m.backup!.capture.kind === "stop" && s.name < m.name)
        p.add(
          `services.${m.name}.backup.capture`,
          `"${s.name}" already stops group "${s.group}" for its backup: one stop capture per group; capture ${m.name} with files or sqlite, or let ${s.name}'s stop cover it`,
        );
      else if (m.backup!.capture.kind !== "stop" && m.backup!.schedule === s.backup!.schedule)
        p.add(
          `services.${m.name}.backup.schedule`,
          `runs at the same time as ${s.name}'s backup (${JSON.stringify(s.backup!.schedule)}), which stops group "${s.group}" with ${m.name} in it: give one of them another schedule`,
        );
    }
    // Docker finds a container by ID, then by name, then by ID prefix (moby v26.1.5
    // daemon/container.go:37-60): a name of hex digits only, once its container is gone,
    // would stop whichever container's ID starts with it.
    for (const n of c.containers.filter((n) => /^[0-9a-f]+$/.test(n)))
      p.add(
        `services.${n}`,
        `"${n}" is stopped for ${s.name}'s backup (capture: "stop"), and a name of hex digits only could be read by Docker as the start of another container's ID: rename it (e.g. "${n}-app")`,
      );
  }
}

function startOrder(members: ResolvedService[]): string[] {
  const names = new Set(members.map((m) => m.name));
  const deps = new Map(members.map((m) => [m.name, m.dependsOn.filter((d) => names.has(d))]));
  const out: string[] = [];
  const visit = (n: string, seen: Set<string>): void => {
    if (out.includes(n) || seen.has(n)) return;
    seen.add(n);
    for (const d of [...(deps.get(n) ?? [])].sort()) visit(d, seen);
    out.push(n);
  };
  for (const n of [...names].sort()) visit(n, new Set());
  return out;
}

/** Checks what only the code layer can get wrong. */
/** `http.groups`: group names, and only with single sign-on (nobody else can check a group). */
function checkGroups(s: ServiceSpec, p: Problems, cfg: StackConfig): void {
  const groups = s.http?.groups ?? [];
  for (const [i, g] of groups.entries()) {
    if (typeof g !== "string" || !GROUP_RE.test(g))
      p.expected(`services.${s.name}.http.groups[${i}]`, "a group name like family", g);
  }
  if (groups.length > 0 && !cfg.sso.server)
    p.add(
      `services.${s.name}.http.groups`,
      `groups need the single sign-on, which checks them: set homelab:sso to the stack that runs it, or remove groups`,
    );
}

function checkSpec(s: ServiceSpec, p: Problems, secrets: string[], names: string[]): void {
  const at = `services.${s.name}`;
  if (
    s.group !== undefined &&
    (typeof s.group !== "string" ||
      !NAME_RE.test(s.group) ||
      (RESERVED_GROUPS as readonly string[]).includes(s.group))
  ) {
    p.expected(
      `${at}.group`,
      `a lower-case DNS label other than ${RESERVED_GROUPS.map((g) => `"${g}"`).join(", ")}`,
      s.group,
    );
  }
  if (!IMAGE_RE.test(s.image)) p.expected(`${at}.image`, "an image reference with a tag", s.image);
  const envs: [string, Record<string, EnvValue> | undefined][] = [
    ["env", s.env],
    ["backup.dump.env", s.backup?.dump?.env],
  ];
  for (const [where, env] of envs) {
    for (const [k, v] of Object.entries(env ?? {})) {
      if (!ENV_NAME_RE.test(k))
        p.add(`${at}.${where}.${k}`, "expected an environment variable name");
      if (isSecretRef(v) && !secrets.includes(v.secret)) {
        p.add(
          `${at}.${where}.${k}`,
          `unknown secret "${v.secret}"${didYouMean(v.secret, secrets)}; declare it in secrets`,
        );
      }
    }
  }
  const vols = new Set<string>();
  for (const [i, v] of (s.volumes ?? []).entries()) {
    if (!NAME_RE.test(v.name))
      p.expected(`${at}.volumes[${i}].name`, "a lower-case DNS label", v.name);
    if (vols.has(v.name)) p.add(`${at}.volumes[${i}].name`, `duplicate volume "${v.name}"`);
    if (typeof v.path !== "string" || !v.path.startsWith("/"))
      p.expected(`${at}.volumes[${i}].path`, "an absolute path", v.path);
    // A misspelt kind would make a volume that is neither retained nor disposable on purpose.
    if (v.kind !== undefined && v.kind !== "data" && v.kind !== "cache")
      p.add(`${at}.volumes[${i}].kind`, `expected one of "data", "cache", got ${show(v.kind)}`);
    vols.add(v.name);
  }
  if (s.http && !validPort(s.http.port))
    p.expected(`${at}.http.port`, "an integer 1-65535", s.http.port);
  if (s.http?.subdomain !== undefined) checkSubdomain(p, `${at}.http.subdomain`, s.http.subdomain);
  if (s.http?.healthPath !== undefined)
    checkHealthPath(p, `${at}.http.healthPath`, s.http.healthPath);
  for (const k of ["keepDaily", "keepWeekly", "keepMonthly"] as const) {
    if (s.backup?.[k] !== undefined) checkRetentionNumber(p, `${at}.backup.${k}`, s.backup[k]);
  }
  for (const [i, pkg] of (s.backup?.dump?.packages ?? []).entries())
    checkPackage(p, `${at}.backup.dump.packages[${i}]`, pkg);
  for (const [i, x] of (s.ports ?? []).entries()) {
    if (!validPort(x.port)) p.expected(`${at}.ports[${i}].port`, "an integer 1-65535", x.port);
    if (x.hostPort !== undefined && !validPort(x.hostPort))
      p.expected(`${at}.ports[${i}].hostPort`, "an integer 1-65535", x.hostPort);
    if (x.protocol !== undefined && x.protocol !== "tcp" && x.protocol !== "udp")
      p.add(`${at}.ports[${i}].protocol`, `expected one of "tcp", "udp", got ${show(x.protocol)}`);
    if (x.check !== undefined && !PORT_CHECKS.includes(x.check)) {
      p.add(
        `${at}.ports[${i}].check`,
        `expected one of ${PORT_CHECKS.map((c) => `"${c}"`).join(", ")}, got ${show(x.check)}`,
      );
    }
  }
  for (const d of s.dependsOn ?? []) {
    if (!names.includes(d))
      p.add(`${at}.dependsOn`, `unknown service "${d}"${didYouMean(d, names)}`);
  }
}

/** The generated secrets' names: each a valid name, each once (one resource per name). */
function checkSecrets(secrets: unknown[], p: Problems): void {
  const seen = new Set<unknown>();
  for (const [i, n] of secrets.entries()) {
    checkSecretName(p, `secrets[${i}]`, n);
    if (seen.has(n)) p.add(`secrets[${i}]`, `duplicate secret ${show(n)}`);
    seen.add(n);
  }
}

/**
 * A stack-file override that the service cannot use is a mistake, not a no-op: a subdomain for
 * a service without a route, a schedule or retention for one without a backup.
 */
function checkOverridesApply(s: ResolvedService, cfg: StackConfig, p: Problems): void {
  const o = cfg.services[s.name] ?? {};
  const file = `Pulumi.${cfg.stack}.yaml`;
  if (o.subdomain !== undefined && !s.http) {
    p.add(
      `services.${s.name}.subdomain`,
      `"${s.name}" has no http route, so a subdomain cannot apply: remove it from ${file} (or give the service http in stacks/${cfg.stack}.ts)`,
    );
  }
  if (s.backup) return;
  for (const k of ["backupSchedule", "keepDaily", "keepWeekly", "keepMonthly"] as const) {
    if (o[k] === undefined) continue;
    p.add(
      `services.${s.name}.${k}`,
      `"${s.name}" has no backup (no data volume or dump, or backup.enabled: false), so ${k} cannot apply: remove it from ${file}`,
    );
  }
}

function checkUnique(services: ResolvedService[], p: Problems, cfg: StackConfig): void {
  const subs = new Map<string, string>(Object.entries(SYSTEM_SUBDOMAINS).map(([k, v]) => [v, k]));
  const ports = new Map<string, string>(
    SYSTEM_PORTS.map((x) => [`${x.port}/${x.protocol}`, x.owner]),
  );
  for (const s of services) {
    if (s.http) {
      const owner = subs.get(s.http.subdomain);
      if (owner) {
        p.add(
          `services.${s.name}.subdomain`,
          `"${s.http.subdomain}.${cfg.domain}" is already taken by ${owner}`,
        );
      }
      subs.set(s.http.subdomain, s.name);
    }
    for (const x of s.ports) {
      const key = `${x.hostPort}/${x.protocol}`;
      const owner = ports.get(key);
      if (owner)
        p.add(`services.${s.name}.ports`, `host port ${key} is already published by ${owner}`);
      ports.set(key, s.name);
    }
  }
}

/** Container and volume names are global on a host: no two things may claim one. */
function checkDockerNames(services: ResolvedService[], p: Problems): void {
  const standard = "a standard component";
  const containers = new Map<string, string>(SYSTEM_CONTAINERS.map((n) => [n, standard]));
  const volumes = new Map<string, string>(SYSTEM_VOLUMES.map((n) => [n, standard]));
  // Networks: the standard ones, one per group, one per backup job's Docker API proxy.
  const networks = new Map<string, string>(Object.values(NETWORKS).map((n) => [n, standard]));
  for (const g of [...new Set(services.flatMap((s) => (s.group ? [s.group] : [])))])
    if (!networks.has(`homelab-${g}`)) networks.set(`homelab-${g}`, `group ${g}`);
  for (const s of services) {
    const proxied = s.backup !== undefined && usesDockerApi(s.backup.capture.kind);
    if (proxied) {
      const net = backupProxyName(s.name);
      const owner = networks.get(net);
      if (owner)
        p.add(
          `services.${s.name}`,
          `the network of its backup job's Docker proxy, "${net}", is already the network of ${owner}; rename the service`,
        );
      networks.set(net, `service ${s.name}'s backup`);
    }
    for (const name of [
      s.name,
      ...(s.backup ? [`${s.name}-backup`] : []),
      ...(proxied ? [backupProxyName(s.name)] : []),
    ]) {
      const owner = containers.get(name);
      // A service declared twice is reported once, as such.
      if (owner && owner !== `service ${s.name}`) {
        p.add(
          `services.${s.name}`,
          `container name "${name}" is already taken by ${owner}; rename the service`,
        );
      }
      containers.set(name, `service ${s.name}`);
    }
    for (const v of s.volumes) {
      const name = `${s.name}-${v.name}`;
      const owner = volumes.get(name);
      // A volume declared twice in one service is reported once, as such.
      if (owner && owner !== `service ${s.name}`) {
        p.add(
          `services.${s.name}.volumes.${v.name}`,
          `Docker volume "${name}" is already used by ${owner}; rename the volume`,
        );
      }
      volumes.set(name, `service ${s.name}`);
    }
  }
}

/** dependsOn must not loop: creation order would be undefined. */
function checkCycles(services: ResolvedService[], p: Problems): void {
  const deps = new Map(services.map((s) => [s.name, s.dependsOn]));
  const reported = new Set<string>();
  const visit = (name: string, path: string[]): void => {
    const at = path.indexOf(name);
    if (at >= 0) {
      const cycle = [...path.slice(at), name];
      const key = [...cycle.slice(0, -1)].sort().join(",");
      if (!reported.has(key)) {
        reported.add(key);
        p.add(
          `services.${cycle[0]}.dependsOn`,
          `cycle ${cycle.join(" → ")}; remove one of these dependencies`,
        );
      }
      return;
    }
    for (const d of deps.get(name) ?? []) visit(d, [...path, name]);
  };
  for (const s of services) visit(s.name, []);
}

function validPort(n: unknown): boolean {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}
