/**
 * Gatus: which endpoints a service derives, and the whole config.yaml of one server's Gatus.
 * Secrets never enter the file: it names environment variables (`${NTFY_TOKEN}`) that Gatus
 * expands at start, and the container gets those as secret envs.
 *
 * Gatus expands `$VAR` and `${VAR}` anywhere in the file's text before it parses the YAML, and
 * `$$` is its escape for a literal `$` (TwiN/gatus v5.25.2, config/config.go:281-290:
 * `$$` → `__GATUS_LITERAL_DOLLAR_SIGN__`, `os.ExpandEnv`, back to `$`, then `yaml.Unmarshal`;
 * README.md:235-239). So every value the renderer takes from config is written with `$`
 * doubled, and only the references below (`envRef`) stay single.
 */
import { stringify } from "yaml";
import { CERT_MIN_VALIDITY } from "../components/defaults";
import type { FallbackAlert } from "../lib/config";
import type { ResolvedService } from "../lib/model";
import { cronMaxGapMinutes } from "./cron";
import { byKey, byText } from "../lib/order";

/** One thing to watch. Published to peers as the stack output `endpoints`. */
export interface WatchEndpoint {
  /** Unique within its server; [a-z0-9-]. */
  name: string;
  /** `https://…`, `tcp://host:port`, `starttls://host:port` or `tls://host:port`. */
  url: string;
  /** Gatus conditions. */
  conditions: string[];
}

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST = `${LABEL}(?:\\.${LABEL})+`;
/** The URL forms `serviceEndpoints`, `gatusSelfEndpoint` and the standard components produce. */
const ENDPOINT_URL = new RegExp(
  `^(?:https://${HOST}(?::\\d{1,5})?/[A-Za-z0-9\\-._~!$&'()*+,;=:@%/]*(?:\\?[A-Za-z0-9\\-._~!$&'()*+,;=:@%/?]*)?` +
    `|(?:tcp|tls|starttls)://${HOST}:\\d{1,5})$`,
);
/** The conditions those endpoints carry, and nothing else (Gatus' placeholders, README "Conditions"). */
const ENDPOINT_CONDITION =
  /^(?:\[STATUS\] == \d{3}|\[CERTIFICATE_EXPIRATION\] > \d{1,5}h|\[CONNECTED\] == true|\[BODY\]\.[a-z]{1,32} == [A-Za-z0-9]{1,32})$/;

/**
 * What is wrong with an endpoint a peer published, or undefined. A peer's stack output is
 * input from another machine: an endpoint is watched only when it has the exact shape this
 * program publishes (a name, an https URL on a DNS name or a tcp/tls/starttls host:port, the
 * conditions above), so nothing else (a `$` reference, YAML, another alert target) reaches
 * this server's Gatus config.
 */
export function endpointProblem(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null || Array.isArray(e)) return "not an object";
  const { name, url, conditions } = e as Record<string, unknown>;
  if (typeof name !== "string" || !new RegExp(`^${LABEL}$`).test(name))
    return `name ${JSON.stringify(name)} is not a lower-case label`;
  if (typeof url !== "string" || !ENDPOINT_URL.test(url))
    return `url ${JSON.stringify(url)} is not https://<host>/<path> or tcp|tls|starttls://<host>:<port>`;
  if (!Array.isArray(conditions) || conditions.length === 0 || conditions.length > 8)
    return "conditions is not a list of 1-8 conditions";
  const bad = conditions.find((c) => typeof c !== "string" || !ENDPOINT_CONDITION.test(c));
  if (bad !== undefined)
    return `condition ${JSON.stringify(bad)} is not one this program publishes`;
  return undefined;
}

/** A heartbeat Gatus expects from a scheduled job (backup, check, drill). */
export interface Heartbeat {
  /** Unique within the server; [a-z0-9-]. */
  name: string;
  /** Cron schedule of the job: the heartbeat interval derives from it (`heartbeatInterval`). */
  schedule: string;
  /** Jobs on this server's own repositories, or on the replicas it keeps. @default "jobs" */
  kind?: HeartbeatKind;
  /**
   * The container that sends it (`vaultwarden-backup`, `backup-replicas`): each has its own
   * token, so one job cannot report for another's (`heartbeatTokenEnv`). @default the shared one
   */
  token?: string;
}

/**
 * The variable holding the heartbeat token of one sending container. Gatus checks the bearer
 * token of a push against that external endpoint's own `token` (TwiN/gatus v5.25.2
 * api/external_endpoint.go:26-44; config/endpoint/external_endpoint.go:34-35, 58-59).
 */
export function heartbeatTokenEnv(sender?: string): string {
  return sender
    ? `${GATUS_ENV.heartbeatToken}_${sender.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`
    : GATUS_ENV.heartbeatToken;
}

/** Own repositories and replicas report in separate groups, so their names never collide. */
export type HeartbeatKind = "jobs" | "replicas";

/** Group of a server's heartbeats; with the name it forms the push key `<group>_<name>`. */
export function heartbeatGroup(server: string, kind: HeartbeatKind = "jobs"): string {
  return `${server}-${kind}`;
}

/** The key a job pushes to: `POST /api/v1/endpoints/<key>/external?success=…`. */
export function heartbeatKey(server: string, name: string, kind: HeartbeatKind = "jobs"): string {
  return `${heartbeatGroup(server, kind)}_${name}`;
}

/** Port of Gatus' web server and API, inside its container. */
export const GATUS_PORT = 8080;

/** Gatus' container name, and where its SQLite storage lives in it (a data volume at /data). */
export const GATUS_CONTAINER = "gatus";
export const GATUS_PATHS = { data: "/data", db: "/data/data.db" } as const;

/**
 * Environment variables the rendered file refers to. Gatus pastes their values into the file's
 * text before parsing it, so a value must be a YAML scalar by itself: the generated tokens (letters,
 * digits, `tk_`) and the base64 hash already are; the SMTP password, which the user chooses,
 * is given as `gatusEnvScalar(password)`.
 */
export const GATUS_ENV = {
  ntfyToken: "NTFY_TOKEN",
  heartbeatToken: "HEARTBEAT_TOKEN",
  smtpPassword: "SMTP_PASSWORD",
  passwordHash: "GATUS_PASSWORD_BCRYPT_B64",
} as const;

/**
 * What a service asks to be watched: its route and its directly published ports.
 *
 * An admin service's router (or one open to `http.groups`) has admin auth in front of every
 * path, and Gatus sends no credentials, so what comes back is a 401, never the service's own
 * status: Traefik's basic auth (traefik/traefik v3 pkg/middlewares/auth/basic_auth.go,
 * `ServeHTTP` → `RequireAuth` without a valid login), or with single sign-on Authelia's, which
 * answers 401 to a request that does not accept HTML, and Gatus sends no Accept header (authelia
 * v4.39.20 handlers/handler_authz_impl_forwardauth.go:39-41, middlewares/authelia_context.go:
 * 626-637), passed on by Traefik's forwardAuth (pkg/middlewares/auth/forward.go:233-256). The
 * check expects that 401, which still proves DNS, TLS, the certificate and the route.
 * (Expecting `expectStatus` there could never pass.)
 */
export function serviceEndpoints(s: ResolvedService, domain: string): WatchEndpoint[] {
  const out: WatchEndpoint[] = [];
  const host = `${s.http?.subdomain ?? s.name}.${domain}`;
  if (s.http) {
    out.push({
      name: s.name,
      url: `https://${host}${s.http.healthPath}`,
      conditions: [
        `[STATUS] == ${s.http.admin || s.http.groups.length > 0 ? 401 : s.http.expectStatus}`,
        `[CERTIFICATE_EXPIRATION] > ${CERT_MIN_VALIDITY}`,
      ],
    });
  }
  for (const p of s.ports) {
    if (p.check === "none" || p.protocol === "udp") continue;
    const conditions = ["[CONNECTED] == true"];
    if (p.check !== "tcp") conditions.push(`[CERTIFICATE_EXPIRATION] > ${CERT_MIN_VALIDITY}`);
    out.push({
      name: `${s.name}-${p.check}-${p.hostPort}`,
      url: `${p.check}://${host}:${p.hostPort}`,
      conditions,
    });
  }
  return out;
}

/**
 * The endpoint peers use to watch this server's Gatus itself. Its /health answers
 * `{"status":"UP"}` (TwiN/gatus v5.25.2 api/api.go:94-98 with TwiN/health v1.6.0 health.go:68,
 * status.go:7). Gatus compares the right-hand side as written, quotes included
 * (config/endpoint/condition.go:41-43, 164; placeholder.go:188-190), so it is `UP`, bare, as in
 * Gatus' README.md:209.
 */
export function gatusSelfEndpoint(gatusHost: string): WatchEndpoint {
  return {
    name: "gatus",
    url: `https://${gatusHost}/health`,
    conditions: ["[STATUS] == 200", "[BODY].status == UP"],
  };
}

/**
 * Heartbeat interval of a job, in whole hours (Go duration text, parsed by time.ParseDuration:
 * gopkg.in/yaml.v3 v3.0.1 decode.go:647-651).
 *
 * How Gatus uses it (TwiN/gatus v5.25.2 watchdog/external_endpoint.go:15-23, 43-65): every
 * `interval` it asks whether a result was pushed within the last `interval`; if not, it records
 * one failed result. So the interval must exceed the longest real time between two pushes:
 * - the schedule's largest gap (`cronMaxGapMinutes`, walked in UTC);
 * - plus the job taking longer than last time, as a push comes when the job ends: max(1h, 10% of
 *   the gap), i.e. 2.4h for a daily job (24h + 2.4h + 1h → 28h), ~17h for a weekly one;
 * - plus 1h for a daylight-saving shift: crond runs in the container's local time (TZ), so
 *   across the autumn change two runs are one hour further apart than the schedule says.
 * Rounded up to the hour. A missed job is then reported between one and two intervals after
 * the last push (the alerts below trigger on the first failure).
 */
export function heartbeatInterval(schedule: string): string {
  const gap = cronMaxGapMinutes(schedule);
  const minutes = gap + Math.max(60, Math.ceil(gap / 10)) + 60;
  return `${Math.ceil(minutes / 60)}h`;
}

/**
 * Alert thresholds of heartbeats. Gatus merges a provider's `default-alert` only into fields an
 * alert leaves at 0 (alerting/provider/provider.go:81-86, applied to external endpoints at
 * config/config.go:658-662), so these override the default's 3 and 2. Each missed heartbeat
 * adds one failure per interval (watchdog/external_endpoint.go:57-75) and each push one result
 * (api/external_endpoint.go:46-75); an alert triggers once failures in a row reach
 * failure-threshold and resolves once successes reach success-threshold
 * (watchdog/alerting.go:29-37, 84-93). With the defaults a missed daily backup would page after
 * three more days and a weekly check after three weeks, and recovery would need two good runs.
 */
export const HEARTBEAT_ALERT = { "failure-threshold": 1, "success-threshold": 1 } as const;

/** Everything one Gatus needs to render its config. */
export interface GatusInput {
  server: string;
  /** This server's endpoints (services and standard components). */
  local: WatchEndpoint[];
  /** Endpoints published by peers, by peer stack name. */
  peers: Record<string, WatchEndpoint[]>;
  /** Jobs on this server that push heartbeats. */
  heartbeats: Heartbeat[];
  /** ntfy base URL and topic for alerts; absent when the fleet has no ntfy. */
  ntfy?: { url: string; topic: string };
  /** Second provider; used for endpoints of the ntfy server, and by everything when there is no ntfy. */
  fallback?: FallbackAlert;
  /** Stack hosting ntfy: its endpoints alert through the fallback too. */
  ntfyServer: string;
  /** Require a login for the dashboard. */
  private: boolean;
}

/** config.yaml of one server's Gatus. Deterministic: groups and endpoints sorted. */
export function renderGatusConfig(g: GatusInput): string {
  const providers = alertProviders(g);
  const alertsFor = (group: string) => {
    const types = [];
    if (g.ntfy) types.push("ntfy");
    if (g.fallback && (!g.ntfy || group === g.ntfyServer)) types.push(fallbackType(g.fallback));
    return types.map((type) => ({ type }));
  };
  const endpoint = (group: string, e: WatchEndpoint) => ({
    name: e.name,
    group,
    url: e.url,
    interval: e.url.startsWith("https://") ? "60s" : "120s",
    conditions: e.conditions,
    ...(alertsFor(group).length ? { alerts: alertsFor(group) } : {}),
  });
  for (const [peer, list] of Object.entries(g.peers)) {
    for (const e of list) {
      const problem = endpointProblem(e);
      // lib/peers.ts drops such endpoints with a warning; reaching here is a program error.
      if (problem) throw new Error(`Gatus config: endpoint of peer "${peer}": ${problem}`);
    }
  }
  const groups: [string, WatchEndpoint[]][] = [
    [g.server, g.local],
    ...Object.entries(g.peers).sort(byKey),
  ];
  const endpoints = groups.flatMap(([group, list]) =>
    [...list].sort((a, b) => byText(a.name, b.name)).map((e) => endpoint(group, e)),
  );
  const external = [...g.heartbeats]
    .sort((a, b) =>
      byText(heartbeatKey(g.server, a.name, a.kind), heartbeatKey(g.server, b.name, b.kind)),
    )
    .map((h) => ({
      name: h.name,
      group: heartbeatGroup(g.server, h.kind),
      token: envRef(heartbeatTokenEnv(h.token)),
      heartbeat: { interval: heartbeatInterval(h.schedule) },
      ...(alertsFor(g.server).length
        ? { alerts: alertsFor(g.server).map((a) => ({ ...a, ...HEARTBEAT_ALERT })) }
        : {}),
    }));
  const doc = {
    web: { port: GATUS_PORT },
    storage: { type: "sqlite", path: GATUS_PATHS.db },
    ...(g.private
      ? {
          security: {
            basic: { username: "admin", "password-bcrypt-base64": envRef(GATUS_ENV.passwordHash) },
          },
        }
      : {}),
    // Pause alerting while this server itself is offline, instead of paging for every peer.
    connectivity: { checker: { target: "1.1.1.1:53", interval: "60s" } },
    ...(Object.keys(providers).length ? { alerting: providers } : {}),
    endpoints,
    ...(external.length ? { "external-endpoints": external } : {}),
  };
  return stringify(literal(doc, []));
}

/** A reference to an environment variable Gatus expands: the one `$` left single. */
class EnvRef {
  constructor(readonly name: string) {}
}

function envRef(name: string): EnvRef {
  return new EnvRef(name);
}

/** Gatus' stand-in for an escaped `$` (config/config.go:284, 288). */
const GATUS_DOLLAR_SENTINEL = "__GATUS_LITERAL_DOLLAR_SIGN__";

/**
 * The document with every string made literal for Gatus' expansion: `$` doubled (its `$$`
 * escape), references rendered `${NAME}`. A value holding Gatus' own stand-in text cannot be
 * written in any way that survives (Gatus turns it into `$` after expanding), so it is refused.
 */
function literal(v: unknown, path: string[]): unknown {
  if (v instanceof EnvRef) return `\${${v.name}}`;
  if (typeof v === "string") {
    if (v.includes(GATUS_DOLLAR_SENTINEL))
      throw new Error(
        `Gatus config ${path.join(".")}: ${JSON.stringify(v)} contains ${GATUS_DOLLAR_SENTINEL}, which Gatus replaces with "$" when it reads the file; change the value`,
      );
    return v.replaceAll("$", "$$$$");
  }
  if (Array.isArray(v)) return v.map((x, i) => literal(x, [...path, String(i)]));
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, literal(x, [...path, k])]));
  return v;
}

/**
 * The value to give an environment variable the file refers to as a whole scalar
 * (`password: ${SMTP_PASSWORD}`), so that after Gatus pastes it in (os.ExpandEnv does not
 * re-scan what it inserts) YAML reads back exactly `value`: a double-quoted scalar with `"`,
 * backslash and everything outside printable ASCII escaped, and `_` and `$` escaped too so that no
 * `__GATUS_LITERAL_DOLLAR_SIGN__` can form (Gatus turns that into `$` after expanding,
 * config/config.go:288).
 */
export function gatusEnvScalar(value: string): string {
  let out = '"';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "_" || ch === "$" || c < 0x20 || c === 0x7f)
      out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c < 0x7f) out += ch;
    else if (c <= 0xffff) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += `\\U${c.toString(16).padStart(8, "0")}`;
  }
  return out + '"';
}

function fallbackType(f: FallbackAlert): "custom" | "email" {
  return f.kind === "ntfy" ? "custom" : "email";
}

function alertProviders(g: GatusInput): Record<string, unknown> {
  const defaultAlert = { "failure-threshold": 3, "success-threshold": 2, "send-on-resolved": true };
  const out: Record<string, unknown> = {};
  if (g.ntfy) {
    out.ntfy = {
      url: g.ntfy.url,
      topic: g.ntfy.topic,
      token: envRef(GATUS_ENV.ntfyToken),
      priority: 4,
      "default-alert": defaultAlert,
    };
  }
  if (g.fallback?.kind === "ntfy") {
    out.custom = {
      url: `${g.fallback.url}/${g.fallback.topic}`,
      method: "POST",
      body: `[ALERT_TRIGGERED_OR_RESOLVED] ${g.server}: [ENDPOINT_GROUP]/[ENDPOINT_NAME] [ALERT_DESCRIPTION]`,
      headers: { Title: `homelab ${g.server} (fallback)`, Priority: "high" },
      "default-alert": defaultAlert,
    };
  } else if (g.fallback?.kind === "email") {
    out.email = {
      from: g.fallback.user,
      username: g.fallback.user,
      password: envRef(GATUS_ENV.smtpPassword),
      host: g.fallback.host,
      port: g.fallback.port,
      to: g.fallback.to,
      "default-alert": defaultAlert,
    };
  }
  return out;
}
