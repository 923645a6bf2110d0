/**
 * Gatus: which endpoints a service derives, and the whole config.yaml of one server's Gatus.
 * Secrets never enter the file: it names environment variables (`${NTFY_TOKEN}`) that Gatus
 * expands at start, and the container gets those as secret envs.
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

/** A heartbeat Gatus expects from a scheduled job (backup, check, drill). */
export interface Heartbeat {
  /** Unique within the server; [a-z0-9-]. */
  name: string;
  /** Cron schedule of the job: the heartbeat interval is its largest gap plus an hour. */
  schedule: string;
  /** Jobs on this server's own repositories, or on the replicas it keeps. @default "jobs" */
  kind?: HeartbeatKind;
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

/** Environment variables the rendered file refers to. */
export const GATUS_ENV = {
  ntfyToken: "NTFY_TOKEN",
  heartbeatToken: "HEARTBEAT_TOKEN",
  smtpPassword: "SMTP_PASSWORD",
  passwordHash: "GATUS_PASSWORD_BCRYPT_B64",
} as const;

/** What a service asks to be watched: its route and its directly published ports. */
export function serviceEndpoints(s: ResolvedService, domain: string): WatchEndpoint[] {
  const out: WatchEndpoint[] = [];
  const host = `${s.http?.subdomain ?? s.name}.${domain}`;
  if (s.http) {
    out.push({
      name: s.name,
      url: `https://${host}${s.http.healthPath}`,
      conditions: [
        `[STATUS] == ${s.http.expectStatus}`,
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

/** The endpoint peers use to watch this server's Gatus itself. */
export function gatusSelfEndpoint(gatusHost: string): WatchEndpoint {
  return {
    name: "gatus",
    url: `https://${gatusHost}/health`,
    conditions: ["[STATUS] == 200", '[BODY].status == "UP"'],
  };
}

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
      token: `\${${GATUS_ENV.heartbeatToken}}`,
      heartbeat: { interval: `${Math.ceil(cronMaxGapMinutes(h.schedule) / 60) + 1}h` },
      ...(alertsFor(g.server).length ? { alerts: alertsFor(g.server) } : {}),
    }));
  return stringify({
    web: { port: GATUS_PORT },
    storage: { type: "sqlite", path: "/data/data.db" },
    ...(g.private
      ? {
          security: {
            basic: { username: "admin", "password-bcrypt-base64": `\${${GATUS_ENV.passwordHash}}` },
          },
        }
      : {}),
    // Pause alerting while this server itself is offline, instead of paging for every peer.
    connectivity: { checker: { target: "1.1.1.1:53", interval: "60s" } },
    ...(Object.keys(providers).length ? { alerting: providers } : {}),
    endpoints,
    ...(external.length ? { "external-endpoints": external } : {}),
  });
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
      token: `\${${GATUS_ENV.ntfyToken}}`,
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
      password: `\${${GATUS_ENV.smtpPassword}}`,
      host: g.fallback.host,
      port: g.fallback.port,
      to: g.fallback.to,
      "default-alert": defaultAlert,
    };
  }
  return out;
}
