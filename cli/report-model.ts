/**
 * What the plan shows, derived from the evaluations of the real program (never from a second
 * description of the fleet): containers, routes from Traefik labels, monitors from each
 * server's rendered Gatus config, backups from the stack outputs and the sidecars, and the
 * update policy from Watchtower labels and image resources.
 *
 * Everything is read from a redacted copy (every secret is the string "[secret]"), except what
 * travels in a secret upload list yet holds no secret: the Gatus config (it names env variables
 * for its tokens), the backup crontab (schedules only) and the capture variables of the backup
 * script (`CAPTURE`, `STOP_CONTAINERS`, `MAX_DOWNTIME`, `HOOK_*`; only those are read).
 */
import { AUTHZ_PORT } from "../configs/authelia";
import { BACKUP_PATHS } from "../configs/backup";
import { AUTHZ_ENTRYPOINT, MIDDLEWARES, TRAEFIK_PATHS } from "../configs/traefik";
import { HOMEPAGE_CONFIG_DIR } from "../configs/homepage";
import { parseYamlOnce } from "../lib/yaml-once";
import { WATCHTOWER_LABELS } from "../components/defaults";
import { imageReference, imageResourceOf } from "../lib/guardrails/resources";
import type { Evaluation, RegisteredResource } from "./evaluate";
import type { Fleet } from "./fleet";
import {
  containerNamed,
  containers,
  gatusConfig,
  labelsOf,
  redact,
  scriptVar,
  str,
  uploadText,
} from "./report-read";

export type UpdatePolicyName = "pinned" | "notify" | "auto";

export interface ContainerPlan {
  /** Docker container name. */
  name: string;
  /** `homelab.role` label: service, backup, traefik, gatus, … */
  role: string;
  image: string;
  networks: string[];
  /** Published host ports as `[address:]host:container/protocol` (docker run -p form). */
  ports: string[];
  /** Mounts as `volume-or-host-path:container-path[:ro]`. */
  mounts: string[];
  update: { policy: UpdatePolicyName; detail: string };
}

export interface RoutePlan {
  url: string;
  /** Container that serves it. */
  service: string;
  /** A login in front (admin UI). */
  auth: boolean;
  /** Which login: the single sign-on's forward auth, or basic auth. */
  login?: "single sign-on" | "basic auth";
}

export interface MonitorPlan {
  /** Server whose Gatus runs the check. */
  watcher: string;
  /** Server the endpoint belongs to (the Gatus group). */
  target: string;
  name: string;
  /** `https://…`, `tcp://…`, … or, for heartbeats, `heartbeat`. */
  url: string;
  kind: "http" | "tcp" | "tls" | "starttls" | "heartbeat";
  /** Alert providers (ntfy, custom, email); heartbeats: the interval too. */
  alerts: string[];
  /** Heartbeats only: how long silence may last. */
  interval?: string;
}

/** How a backup captures its data consistently (lib/model.ts `CaptureKind`), as its job runs it. */
export interface CapturePlan {
  /** files, sqlite, dump, stop or hook; "" when the server published none (before captures). */
  kind: string;
  /** sqlite: the databases copied online and integrity-checked, as `<volume>/<path>`. */
  databases?: string[];
  /** dump: the dump file, and the trailer the drill checks it ends with (when the tool writes one). */
  dumpFile?: string;
  dumpComplete?: string;
  /** stop: the containers stopped during the snapshot (the service, or its group), start order. */
  containers?: string[];
  /** stop: longest downtime in seconds (`maxDowntime`), after which the snapshot is stopped. */
  maxDowntime?: number;
  /** stop: the heartbeat the job reports the downtime to. */
  downtimeHeartbeat?: string;
  /** hook: the commands run in the service's container, and how long each may take. */
  hook?: { container: string; pre: string[]; post?: string[]; timeout: number };
}

export interface BackupPlan {
  service: string;
  repository: string;
  /** Volumes copied as files, and the dump file. */
  what: string[];
  capture: CapturePlan;
  schedule: string;
  check?: string;
  drill?: string;
  retention: { keepDaily: number; keepWeekly: number; keepMonthly: number };
  /** Peers the repository folder is shared with (Syncthing, receive-only there). */
  replicatedTo: string[];
  /** Of those, the peers that check and restore-drill the replica with its key. */
  verifiedBy: string[];
  /** Of those, the peers that keep it as ciphertext only and verify it without the key. */
  verifiedWithoutKey: string[];
  /** Who holds its key and can read it: the writer and the peers trusted with it (`trust: full`). */
  readableBy: string[];
}

export interface ReplicaPlan {
  origin: string;
  service: string;
  repository: string;
  /** Whether this server holds its key (`trust: full`): checked and drilled, or only verified. */
  withKey: boolean;
}

/** A published port as reachable from outside the host. */
export interface ExposurePlan {
  /** Host address it binds to; "0.0.0.0" is every interface. */
  address: string;
  port: number;
  protocol: string;
  container: string;
}

/** The fleet's homepage, on the server that hosts it: what the page will list. */
export interface HomepagePlan {
  url: string;
  /** Sections in page order: one per server, each service as services.yaml has it. */
  groups: {
    server: string;
    entries: { name: string; description: string; href?: string; icon?: string; status?: string }[];
  }[];
}

export interface ServerPlan {
  stack: string;
  role: string;
  /** The Docker engine the stack's provider talks to (`ssh://user@host:port`). */
  engine: string;
  /** Every published port by address (homelab:bindAddresses), sorted. */
  exposure: ExposurePlan[];
  containers: ContainerPlan[];
  routes: RoutePlan[];
  /** Checks this server's Gatus runs (its own endpoints, its peers', heartbeats). */
  monitors: MonitorPlan[];
  /** Checks other servers run on this one. */
  watchedBy: MonitorPlan[];
  backups: BackupPlan[];
  /** Peers' repositories this server keeps a replica of. */
  replicas: ReplicaPlan[];
  /** Only on the server that hosts the fleet's homepage. */
  homepage?: HomepagePlan;
  /**
   * Docker volumes `pulumi destroy` of this stack leaves on the host (retainOnDelete: the
   * engine drops them from the state without calling the provider's Delete), sorted.
   */
  retained: string[];
  warnings: string[];
}

/** Who updates the image: `homelab.updates` label if set, else Watchtower labels and the image. */
export function updatePolicy(e: Evaluation, c: RegisteredResource): ContainerPlan["update"] {
  const labels = labelsOf(c);
  const image = imageResourceOf(e, c);
  const explicit = labels["homelab.updates"];
  const policy: UpdatePolicyName =
    explicit === "pinned" || explicit === "notify" || explicit === "auto"
      ? explicit
      : image?.inputs.pullTriggers !== undefined
        ? "auto"
        : labels[WATCHTOWER_LABELS.enable] === "true"
          ? "notify"
          : "pinned";
  const scope = labels[WATCHTOWER_LABELS.scope];
  const detail = {
    pinned: "tag pinned; bumped by a change to the code or stack config",
    notify:
      labels[WATCHTOWER_LABELS.monitorOnly] === "true"
        ? `Watchtower${scope ? ` (scope ${scope})` : ""} notifies of new images, monitor-only; \`pulumi up\` applies`
        : `Watchtower${scope ? ` (scope ${scope})` : ""} may recreate it (not monitor-only!)`,
    auto: "each `pulumi up` pulls the tag's newest digest and replaces the container",
  }[policy];
  return { policy, detail };
}

function containerPlan(e: Evaluation, c: RegisteredResource): ContainerPlan {
  const i = redact(c.inputs) as Record<string, unknown>;
  const nets = (Array.isArray(i.networksAdvanced) ? i.networksAdvanced : []) as { name: string }[];
  const ports = (Array.isArray(i.ports) ? i.ports : []) as {
    internal: number;
    external: number;
    protocol?: string;
    ip?: string;
  }[];
  const vols = (Array.isArray(i.volumes) ? i.volumes : []) as {
    volumeName?: string;
    hostPath?: string;
    containerPath: string;
    readOnly?: boolean;
  }[];
  return {
    name: str(i.name),
    role: labelsOf(c)["homelab.role"] ?? "",
    image: imageReference(e, c),
    networks: nets.map((n) => str(n.name)),
    ports: ports.map(
      (p) => `${p.ip ? `${p.ip}:` : ""}${p.external}:${p.internal}/${p.protocol ?? "tcp"}`,
    ),
    mounts: vols.map(
      (v) => `${v.volumeName ?? v.hostPath}:${v.containerPath}${v.readOnly ? ":ro" : ""}`,
    ),
    update: updatePolicy(e, c),
  };
}

/** Routes from Traefik router labels, plus the dashboard (a file-provider router). */
export function routesOf(e: Evaluation): RoutePlan[] {
  const out: RoutePlan[] = [];
  const login = adminLoginOf(e);
  for (const c of containers(e)) {
    const labels = labelsOf(c);
    if (labels["traefik.enable"] !== "true") continue;
    for (const [key, rule] of Object.entries(labels)) {
      const m = /^traefik\.http\.routers\.([^.]+)\.rule$/.exec(key);
      if (!m) continue;
      const middlewares = labels[`traefik.http.routers.${m[1]}.middlewares`] ?? "";
      const authz = labels[`traefik.http.routers.${m[1]}.entrypoints`] === AUTHZ_ENTRYPOINT;
      const auth = middlewares.includes("admin-auth");
      // A path-limited router (the open health path of an admin UI) is shown with its paths.
      const paths = [...rule.matchAll(/Path\(`([^`]+)`\)/g)].map((p) => p[1]!);
      for (const host of rule.matchAll(/Host\(`([^`]+)`\)/g)) {
        const base = authz ? `https://${host[1]}:${AUTHZ_PORT}` : `https://${host[1]}`;
        for (const path of authz ? ["/api/authz/"] : paths.length ? paths : [""])
          out.push({
            url: base + path,
            service: str(c.inputs.name) + (authz ? " (peers' forward auth)" : ""),
            auth,
            ...(auth ? { login } : {}),
          });
      }
    }
  }
  const summary = redact(e.outputs.summary) as { dashboards?: { traefik?: string } } | null;
  const dashboard = summary?.dashboards?.traefik;
  if (typeof dashboard === "string" && dashboard.startsWith("https://")) {
    out.push({ url: new URL(dashboard).origin, service: "traefik (dashboard)", auth: true, login });
  }
  return out.sort((a, b) => a.url.localeCompare(b.url));
}

/** The login of this server's admin routes: what Traefik's `admin-auth` middleware is. */
function adminLoginOf(e: Evaluation): RoutePlan["login"] {
  const traefik = containers(e).find((c) => str(c.inputs.name) === "traefik");
  const dynamic = traefik && uploadText(traefik, TRAEFIK_PATHS.dynamic);
  const doc = (dynamic ? parseYamlOnce(dynamic) : undefined) as
    { http?: { middlewares?: Record<string, { forwardAuth?: unknown }> } } | undefined;
  const adminAuth = doc?.http?.middlewares?.[MIDDLEWARES.adminAuth.replace(/@file$/, "")];
  return adminAuth?.forwardAuth ? "single sign-on" : "basic auth";
}

function kindOf(url: string): MonitorPlan["kind"] {
  const scheme = url.split("://")[0];
  if (scheme === "tcp" || scheme === "tls" || scheme === "starttls") return scheme;
  return "http";
}

/** Checks the server's Gatus runs. */
export function monitorsOf(e: Evaluation): MonitorPlan[] {
  const g = gatusConfig(e);
  if (!g) return [];
  const checks = (g.endpoints ?? []).map((x): MonitorPlan => ({
    watcher: e.stack,
    target: x.group,
    name: x.name,
    url: x.url,
    kind: kindOf(x.url),
    alerts: (x.alerts ?? []).map((a) => a.type),
  }));
  const heartbeats = (g["external-endpoints"] ?? []).map((x): MonitorPlan => ({
    watcher: e.stack,
    target: e.stack,
    name: x.name,
    url: "heartbeat",
    kind: "heartbeat",
    alerts: (x.alerts ?? []).map((a) => a.type),
    ...(x.heartbeat?.interval ? { interval: x.heartbeat.interval } : {}),
  }));
  return [...checks, ...heartbeats];
}

interface PublishedBackup {
  service: string;
  repository: string;
  schedule: string;
  retention: BackupPlan["retention"];
  capture?: string;
  databases?: string[];
  dumpFile?: string;
  dumpComplete?: string;
}

function publishedBackups(e: Evaluation): PublishedBackup[] {
  const b = redact(e.outputs.backups);
  return Array.isArray(b) ? (b as PublishedBackup[]) : [];
}

/** The trust level a server publishes; servers from before trust levels held the keys. */
function trustOf(e: Evaluation | undefined): "full" | "storage" {
  const st = e && (redact(e.outputs.syncthing) as { trust?: unknown } | null);
  return st?.trust === "storage" ? "storage" : "full";
}

function replicasOf(e: Evaluation): string[] {
  const st = redact(e.outputs.syncthing) as { folder?: { replicas?: string[] } } | null;
  return [...(st?.folder?.replicas ?? [])].sort();
}

/** Check and drill schedules from a backup sidecar's crontab. */
function crontabSchedules(c: RegisteredResource | undefined): Record<string, string> {
  const text = c && uploadText(c, BACKUP_PATHS.crontab);
  const out: Record<string, string> = {};
  for (const line of (text ?? "").split("\n")) {
    const m = /^(\S+ \S+ \S+ \S+ \S+) .* (backup|check|drill)\b/.exec(line);
    if (m) out[m[2]!] = m[1]!;
  }
  return out;
}

/** The argv of an exec-create body the script sends (`{"Cmd": [...], ...}`). */
function execCmd(body: string): string[] {
  try {
    const cmd = (JSON.parse(body) as { Cmd?: unknown }).Cmd;
    return Array.isArray(cmd) ? cmd.map(str) : [];
  } catch {
    return [];
  }
}

/**
 * The capture a backup declares (published `capture`, `databases`, `dumpFile`, `dumpComplete`)
 * with what its sidecar's script does for it (`CAPTURE`, `STOP_CONTAINERS`, `MAX_DOWNTIME`, the
 * downtime heartbeat, the hook's commands).
 */
function captureOf(e: Evaluation, b: PublishedBackup, sidecar?: RegisteredResource): CapturePlan {
  const script = (sidecar && uploadText(sidecar, BACKUP_PATHS.script)) ?? "";
  const v = (name: string) => scriptVar(script, name);
  const kind = b.capture ?? v("CAPTURE");
  const out: CapturePlan = { kind };
  if (kind === "sqlite") out.databases = b.databases ?? v("DATABASES").split(" ").filter(Boolean);
  if (b.dumpFile) out.dumpFile = b.dumpFile;
  if (b.dumpComplete) out.dumpComplete = b.dumpComplete;
  if (kind === "stop") {
    out.containers = v("STOP_CONTAINERS").split(" ").filter(Boolean);
    out.maxDowntime = Number(v("MAX_DOWNTIME") || 0);
    // The key is Gatus' `<group>_<name>`; the plan names the heartbeat as Gatus lists it.
    const key = v("HB_DOWNTIME");
    const beat = (gatusConfig(e)?.["external-endpoints"] ?? []).find(
      (x) => `${x.group}_${x.name}` === key,
    );
    if (key) out.downtimeHeartbeat = beat?.name ?? key;
  }
  if (kind === "hook") {
    const post = execCmd(v("HOOK_POST"));
    out.hook = {
      container: v("HOOK_CONTAINER"),
      pre: execCmd(v("HOOK_PRE")),
      ...(post.length ? { post } : {}),
      timeout: Number(v("HOOK_TIMEOUT") || 0),
    };
  }
  return out;
}

/**
 * One line on how a backup captures its data: `sqlite (data/db.sqlite3 copied online,
 * integrity-checked)`, `stop — mail stopped during the snapshot, at most 300 s (maxDowntime); …`.
 */
export function captureText(c: CapturePlan): string {
  switch (c.kind) {
    case "files":
      return "files";
    case "sqlite":
      return `sqlite (${(c.databases ?? []).join(", ")} copied online, integrity-checked)`;
    case "dump":
      return `dump ${c.dumpFile ?? "?"}${c.dumpComplete ? ` (the drill checks it ends with "${c.dumpComplete}")` : ""}`;
    case "stop": {
      const who = (c.containers ?? []).join(", ") || "nothing";
      const beat = c.downtimeHeartbeat
        ? `downtime reported as heartbeat ${c.downtimeHeartbeat}`
        : "downtime NOT reported (no heartbeat)";
      return `stop — ${who} stopped during the snapshot, at most ${c.maxDowntime ?? 0} s (maxDowntime); ${beat}`;
    }
    case "hook": {
      const h = c.hook;
      if (!h) return "hook";
      const cmd = (argv: string[]) => `\`${argv.join(" ")}\``;
      return `hook — in ${h.container}: ${cmd(h.pre)} before the snapshot${h.post ? `, ${cmd(h.post)} after` : ""}, each at most ${h.timeout} s`;
    }
    default:
      return c.kind ? c.kind : "not declared";
  }
}

function backupsOf(e: Evaluation, fleet: Record<string, Evaluation>): BackupPlan[] {
  return publishedBackups(e).map((b) => {
    const sidecar = containerNamed(e, `${b.service}-backup`);
    const mounts = sidecar ? containerPlan(e, sidecar).mounts : [];
    const files = mounts.flatMap((m) => {
      const [volume, path, ro] = m.split(":");
      return ro === "ro" && path!.startsWith(`${BACKUP_PATHS.data}/`) ? [`volume ${volume}`] : [];
    });
    const cron = crontabSchedules(sidecar);
    const replicatedTo = replicasOf(e);
    const beats = (peer: string, job: string) =>
      (fleet[peer] ? monitorsOf(fleet[peer]) : []).some(
        (m) => m.kind === "heartbeat" && m.name === `${job}-${e.stack}-${b.service}`,
      );
    const verifiedBy = replicatedTo.filter((peer) => beats(peer, "check"));
    const verifiedWithoutKey = replicatedTo.filter((peer) => beats(peer, "verify"));
    return {
      service: b.service,
      repository: b.repository,
      what: [...files, ...(b.dumpFile ? [`dump ${b.dumpFile}`] : [])],
      capture: captureOf(e, b, sidecar),
      schedule: b.schedule,
      ...(cron.check ? { check: cron.check } : {}),
      ...(cron.drill ? { drill: cron.drill } : {}),
      retention: b.retention,
      replicatedTo,
      verifiedBy,
      verifiedWithoutKey,
      readableBy: [e.stack, ...replicatedTo.filter((peer) => trustOf(fleet[peer]) === "full")],
    };
  });
}

/**
 * Every published port with the address it binds to. Without an `ip` the provider binds
 * 0.0.0.0, every interface (kreuzwerker/terraform-provider-docker v4.5.0
 * resource_docker_container.go:509-514).
 */
export function exposureOf(e: Evaluation): ExposurePlan[] {
  return containers(e)
    .flatMap((c) => {
      const i = redact(c.inputs) as Record<string, unknown>;
      const ports = (Array.isArray(i.ports) ? i.ports : []) as {
        external: number;
        protocol?: string;
        ip?: string;
      }[];
      return ports.map((p) => ({
        address: p.ip ?? "0.0.0.0",
        port: p.external,
        protocol: p.protocol ?? "tcp",
        container: str(i.name),
      }));
    })
    .sort(
      (a, b) =>
        a.address.localeCompare(b.address) ||
        a.port - b.port ||
        a.protocol.localeCompare(b.protocol) ||
        a.container.localeCompare(b.container),
    );
}

/** One line per address: `0.0.0.0 (every interface): 80/tcp traefik, 443/tcp traefik`. */
export function exposureLines(x: ExposurePlan[]): string[] {
  const by = new Map<string, string[]>();
  for (const p of x) {
    const list = by.get(p.address) ?? [];
    list.push(`${p.port}/${p.protocol} ${p.container}`);
    by.set(p.address, list);
  }
  return [...by].map(
    ([a, list]) => `${a === "0.0.0.0" ? "0.0.0.0 (every interface)" : a}: ${list.join(", ")}`,
  );
}

/** Where the stack's Docker provider points. */
function engineOf(e: Evaluation): string {
  const providers = e.resources.filter((r) => r.type === "pulumi:providers:docker");
  return providers.map((p) => str(redact(p.inputs.host))).join(", ");
}

/** The page the homepage container gets: its uploaded services.yaml (no secrets in it), parsed. */
export function homepageOf(e: Evaluation): HomepagePlan | undefined {
  const c = containerNamed(e, "homepage");
  const text = c && uploadText(c, `${HOMEPAGE_CONFIG_DIR}/services.yaml`);
  const summary = redact(e.outputs.summary) as { homepage?: string } | null;
  if (!text || typeof summary?.homepage !== "string") return undefined;
  type Item = { href?: string; description?: string; icon?: string; siteMonitor?: string };
  const doc = (parseYamlOnce(text) ?? []) as Record<string, Record<string, Item>[]>[];
  return {
    url: summary.homepage,
    groups: doc.map((g) => {
      const [server, items] = Object.entries(g)[0]!;
      return {
        server,
        entries: items.map((i) => {
          const [name, v] = Object.entries(i)[0]!;
          return {
            name,
            description: v.description ?? "",
            ...(v.href ? { href: v.href } : {}),
            ...(v.icon ? { icon: v.icon } : {}),
            ...(v.siteMonitor ? { status: v.siteMonitor } : {}),
          };
        }),
      };
    }),
  };
}

/** The plan of every evaluated stack; `warnings` is filled in by plan-warnings. */
export function serverPlans(fleet: Pick<Fleet, "evaluations">): ServerPlan[] {
  const all = fleet.evaluations;
  const monitors = Object.fromEntries(Object.values(all).map((e) => [e.stack, monitorsOf(e)]));
  return Object.values(all).map((e) => {
    const summary = redact(e.outputs.summary) as { role?: string } | null;
    const homepage = homepageOf(e);
    return {
      stack: e.stack,
      role: summary?.role ?? "",
      engine: engineOf(e),
      exposure: exposureOf(e),
      containers: containers(e)
        .map((c) => containerPlan(e, c))
        .sort((a, b) => a.name.localeCompare(b.name)),
      routes: routesOf(e),
      monitors: monitors[e.stack]!,
      watchedBy: Object.values(monitors)
        .flat()
        .filter((m) => m.watcher !== e.stack && m.target === e.stack),
      backups: backupsOf(e, all),
      replicas: Object.values(all)
        .filter((p) => p.stack !== e.stack && replicasOf(p).includes(e.stack))
        .flatMap((p) =>
          publishedBackups(p).map((b) => ({
            origin: p.stack,
            service: b.service,
            repository: b.repository,
            withKey: trustOf(e) === "full",
          })),
        ),
      ...(homepage ? { homepage } : {}),
      retained: e.resources
        .filter((r) => r.type === "docker:index/volume:Volume" && r.options.retainOnDelete)
        .map((r) => str(r.inputs.name))
        .sort(),
      warnings: [],
    };
  });
}
