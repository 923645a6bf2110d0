/**
 * The three layers, merged: component defaults → `stacks/<server>.ts` → `Pulumi.<server>.yaml`.
 * The result is checked as a whole (names, subdomains, ports, references) and every problem is
 * reported at once, in the same `ConfigError` as the stack config.
 */
import {
  HTTP_DEFAULTS,
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
import { ConfigError, StackConfig } from "./config";
import {
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

function resolveBackup(
  s: ServiceSpec,
  cfg: StackConfig,
  p: Problems,
  volumes: { name: string; path: string; kind: string }[],
): ResolvedBackup | undefined {
  const b = s.backup ?? {};
  const o = cfg.services[s.name] ?? {};
  const skip = b.skipVolumes ?? [];
  for (const [i, v] of skip.entries()) {
    if (!volumes.some((x) => x.name === v)) {
      p.add(
        `services.${s.name}.backup.skipVolumes[${i}]`,
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
    p.add(
      `services.${s.name}.backup`,
      "enabled but there is nothing to back up: add a data volume or a dump",
    );
  }
  const schedule = o.backupSchedule ?? b.schedule ?? cfg.backup.schedule;
  const cron = cronProblem(schedule);
  if (cron)
    p.add(
      `services.${s.name}.backup.schedule`,
      `expected a 5-field cron schedule like "0 3 * * *", got ${show(schedule)} (${cron})`,
    );
  const retention = {
    keepDaily: o.keepDaily ?? b.keepDaily ?? cfg.backup.keepDaily,
    keepWeekly: o.keepWeekly ?? b.keepWeekly ?? cfg.backup.keepWeekly,
    keepMonthly: o.keepMonthly ?? b.keepMonthly ?? cfg.backup.keepMonthly,
  };
  checkRetention(p, `services.${s.name}`, retention);
  for (const [i, f] of (b.verifyFiles ?? []).entries())
    checkVerifyFile(p, `services.${s.name}.backup.verifyFiles[${i}]`, f, files);
  return {
    schedule,
    checkSchedule: cfg.backup.checkSchedule,
    drillSchedule: cfg.backup.drillSchedule,
    retention,
    volumes: files,
    dump: b.dump,
    verifyFiles: [...(b.verifyFiles ?? [])].sort(),
  };
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
  for (const s of services) {
    for (const name of [s.name, ...(s.backup ? [`${s.name}-backup`] : [])]) {
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
