/**
 * Guardrails on what is reachable: every route has TLS and the security headers, every admin
 * UI has a login, and every route is watched by its own server's Gatus and by another server's.
 */
import { parseYamlOnce } from "../yaml-once";
import type { Evaluation } from "../../cli/evaluate";
import { AUTHZ_ENTRYPOINT, MIDDLEWARES, TRAEFIK_PATHS } from "../../configs/traefik";
import { SYNCTHING_PATHS } from "../../configs/syncthing";
import {
  ContainerView,
  Finding,
  Guardrail,
  containers,
  finding,
  isRouted,
  labelRouters,
  role,
  ruleHosts,
  upload,
} from "./resources";

const GATUS_CONFIG = "/config/config.yaml";
const SYNCTHING_CONFIG = `${SYNCTHING_PATHS.config}/config.xml`;

interface FileRouter {
  rule?: string;
  service?: string;
  entryPoints?: string[];
  middlewares?: string[];
  tls?: unknown;
}
interface DynamicConfig {
  http?: { routers?: Record<string, FileRouter>; middlewares?: Record<string, unknown> };
}

function yamlOf<T>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  try {
    return (parseYamlOnce(text) ?? undefined) as T | undefined;
  } catch {
    return undefined;
  }
}

const dynamicOf = (c: ContainerView) =>
  yamlOf<DynamicConfig>(upload(c, TRAEFIK_PATHS.dynamic)) ?? {};

/** Every route (container labels and Traefik's file routers) is HTTPS-only with security headers. */
export const routedTlsHeaders: Guardrail = (e) =>
  containers(e).flatMap((c): Finding[] => {
    const out: Finding[] = [];
    const bad = (msg: string) => out.push(finding("routed-tls-headers", e, c.resource, msg));
    if (isRouted(c)) {
      const routers = labelRouters(c);
      if (Object.keys(routers).length === 0)
        bad(`traefik.enable=true but no router labels: route it with traefikLabels()`);
      for (const [name, r] of Object.entries(routers)) {
        const at = `router "${name}"`;
        if (r.tls !== "true" || !r["tls.certresolver"])
          bad(`${at} has no TLS: set tls=true and tls.certresolver=letsencrypt`);
        if (r.entrypoints === AUTHZ_ENTRYPOINT) {
          // It trusts clients' X-Forwarded-* headers: only the SSO's authz API may be on it.
          if (
            role(c) !== "sso" ||
            !/^Host\(`[^`()|&]+`\) && PathPrefix\(`\/api\/authz\/`\)$/.test(r.rule ?? "")
          )
            bad(
              `${at} listens on "${AUTHZ_ENTRYPOINT}", which trusts clients' X-Forwarded-* headers: only Authelia's /api/authz/ routes may use it; use websecure`,
            );
        } else if (r.entrypoints !== "websecure")
          bad(
            `${at} listens on ${JSON.stringify(r.entrypoints ?? "every entry point")}: use websecure only`,
          );
        if (!(r.middlewares ?? "").split(",").includes(MIDDLEWARES.secureHeaders))
          bad(
            `${at} lacks the security headers: add ${MIDDLEWARES.secureHeaders} to its middlewares`,
          );
      }
    }
    if (role(c) === "traefik") {
      traefikTls(c).forEach(bad);
      for (const [name, r] of Object.entries(dynamicOf(c).http?.routers ?? {})) {
        const at = `file router "${name}"`;
        if (!r.tls) bad(`${at} has no TLS: give it tls.certResolver`);
        if (JSON.stringify(r.entryPoints) !== JSON.stringify(["websecure"]))
          bad(
            `${at} listens on ${JSON.stringify(r.entryPoints ?? "every entry point")}: use websecure only`,
          );
        if (!(r.middlewares ?? []).some((m) => m.replace(/@file$/, "") === "secure-headers"))
          bad(`${at} lacks the security headers: add secure-headers to its middlewares`);
      }
    }
    return out;
  });

/** Traefik itself: HTTP redirects to HTTPS, the headers middleware exists, TLS 1.2 at least. */
function traefikTls(c: ContainerView): string[] {
  const out: string[] = [];
  const stat = yamlOf<{
    entryPoints?: Record<string, { http?: { redirections?: { entryPoint?: { to?: string } } } }>;
  }>(upload(c, TRAEFIK_PATHS.static));
  const web = stat?.entryPoints?.web;
  if (web && web.http?.redirections?.entryPoint?.to !== "websecure")
    out.push(`entry point "web" serves plain HTTP: redirect it to websecure`);
  const dyn = dynamicOf(c) as DynamicConfig & {
    tls?: { options?: { default?: { minVersion?: string } } };
  };
  const headers = (
    dyn.http?.middlewares?.["secure-headers"] as { headers?: Record<string, unknown> }
  )?.headers;
  const hsts = Number(headers?.stsSeconds ?? 0) > 0;
  const frames = headers?.frameDeny === true || !!headers?.customFrameOptionsValue;
  if (!headers || !hsts || headers.contentTypeNosniff !== true || !frames)
    out.push(
      `the secure-headers middleware lacks HSTS, nosniff or frame denial (${TRAEFIK_PATHS.dynamic}): render it with renderTraefikDynamic()`,
    );
  const min = dyn.tls?.options?.default?.minVersion;
  if (min !== "VersionTLS12" && min !== "VersionTLS13")
    out.push(
      `TLS accepts versions below 1.2 (tls.options.default.minVersion is ${JSON.stringify(min ?? "unset")}): set VersionTLS12`,
    );
  return out;
}

/** Traefik dashboard, Syncthing GUI, Gatus (unless public on purpose) and admin services need a login. */
export const adminAuth: Guardrail = (e, ctx) => {
  const intent = ctx.intent?.[e.stack];
  return containers(e).flatMap((c): Finding[] => {
    const bad = (msg: string) => [finding("admin-auth", e, c.resource, msg)];
    switch (role(c)) {
      case "traefik":
        return traefikAuth(c, intent?.sso).flatMap(bad);
      case "syncthing": {
        const viaSso = intent?.sso ? ssoRouters(c) : [];
        if (viaSso.length) return viaSso.flatMap(bad);
        const xml = upload(c, SYNCTHING_CONFIG) ?? "";
        const gui = /<gui [^>]*>([\s\S]*?)<\/gui>/.exec(xml)?.[1] ?? "";
        const user = /<user>([^<]+)<\/user>/.test(gui);
        const password = /<password>([^<]+)<\/password>/.test(gui);
        return user && password
          ? []
          : bad(
              `the Syncthing GUI has no login (${SYNCTHING_CONFIG} lacks <gui><user> and <password>): render it with gui user and bcrypt password`,
            );
      }
      case "gatus":
        if (intent?.gatusPublic) return [];
        return [...(intent?.sso ? ssoRouters(c) : []), ...gatusAuth(c)].flatMap(bad);
      default: {
        if (!intent?.adminServices.includes(c.name) || !isRouted(c)) return [];
        return Object.entries(labelRouters(c)).flatMap(([name, r]) =>
          (r.middlewares ?? "").split(",").includes(MIDDLEWARES.adminAuth)
            ? []
            : bad(
                `"${c.name}" is an admin UI (http.admin) but router "${name}" has no ${MIDDLEWARES.adminAuth}: add it to the router's middlewares`,
              ),
        );
      }
    }
  });
};

/**
 * With single sign-on, an admin UI that has its own login (Gatus, Syncthing) goes through it
 * too: every router has admin-auth, but one limited to exact paths (its open health path).
 */
function ssoRouters(c: ContainerView): string[] {
  return Object.entries(labelRouters(c)).flatMap(([name, r]) =>
    (r.middlewares ?? "").split(",").includes(MIDDLEWARES.adminAuth) ||
    /^Host\(`[^`]+`\) && \(Path\(`[^`]+`\)( \|\| Path\(`[^`]+`\))*\)$/.test(r.rule ?? "")
      ? []
      : [
          `the fleet has single sign-on but router "${name}" of "${c.name}" does not go through it: add ${MIDDLEWARES.adminAuth} to its middlewares (routes open on purpose must be limited to exact paths)`,
        ],
  );
}

/** `ssoOn`: SSO configured (forward auth required); undefined: unknown, either login will do. */
function traefikAuth(c: ContainerView, ssoOn: boolean | undefined): string[] {
  const out: string[] = [];
  const stat = yamlOf<{ api?: { insecure?: boolean } }>(upload(c, TRAEFIK_PATHS.static));
  if (stat?.api?.insecure === true)
    out.push(`api.insecure exposes the dashboard without a login on :8080: remove it`);
  const dyn = dynamicOf(c).http ?? {};
  const dashboards = Object.entries(dyn.routers ?? {}).filter(
    ([, r]) => r.service === "api@internal",
  );
  for (const [name, r] of dashboards) {
    const auth = (r.middlewares ?? []).find((m) => {
      const def = dyn.middlewares?.[m.replace(/@file$/, "")] as
        | {
            basicAuth?: { users?: string[]; usersFile?: string };
            forwardAuth?: { address?: string };
          }
        | undefined;
      if (ssoOn) return !!def?.forwardAuth?.address;
      if (ssoOn === undefined && def?.forwardAuth?.address) return true;
      const basic = def?.basicAuth;
      if (!basic) return false;
      if (basic.users?.length) return true;
      return !!basic.usersFile && /^[^:\s]+:\S+/.test(upload(c, basic.usersFile) ?? "");
    });
    if (!auth)
      out.push(
        ssoOn
          ? `dashboard router "${name}" does not go through the single sign-on: admin-auth must be its forwardAuth middleware (before the SSO server's first deploy there is none: deploy it first)`
          : `dashboard router "${name}" has no basic auth with users: add the admin-auth middleware and upload its users file`,
      );
  }
  return out;
}

function gatusAuth(c: ContainerView): string[] {
  const cfg = yamlOf<{ security?: { basic?: Record<string, string> } }>(upload(c, GATUS_CONFIG));
  const basic = cfg?.security?.basic;
  const hash = basic?.["password-bcrypt-base64"] ?? "";
  const ref = /^\$\{(\w+)\}$/.exec(hash)?.[1];
  const set = ref ? !!c.env[ref] : hash !== "";
  if (basic?.username && set) return [];
  return [
    `the Gatus status page is private but ${GATUS_CONFIG} has no security.basic login (or its password is empty): render it with private: true, or set gatusPublic: true to publish it on purpose`,
  ];
}

/** Public hosts routed on a server, with the container that serves each. */
export function routedHosts(e: Evaluation): { host: string; c: ContainerView }[] {
  return containers(e).flatMap((c) => {
    const hosts = Object.values(labelRouters(c)).flatMap((r) => ruleHosts(r.rule ?? ""));
    if (role(c) === "traefik")
      for (const r of Object.values(dynamicOf(c).http?.routers ?? {}))
        hosts.push(...ruleHosts(r.rule ?? ""));
    return [...new Set(hosts)].map((host) => ({ host, c }));
  });
}

/** Hosts of the https endpoints a server's Gatus watches. */
export function watchedHosts(e: Evaluation): Set<string> {
  const gatus = containers(e).find((c) => role(c) === "gatus");
  const cfg = gatus && yamlOf<{ endpoints?: { url?: string }[] }>(upload(gatus, GATUS_CONFIG));
  return new Set(
    (cfg?.endpoints ?? []).flatMap((x) => {
      const m = /^https:\/\/([^/:]+)/.exec(x.url ?? "");
      return m ? [m[1]!] : [];
    }),
  );
}

/**
 * Every routed host is watched by its own server's Gatus and by at least one other server's.
 * Gatus itself is exempt from the first: a monitor cannot report its own outage.
 */
export const monitored: Guardrail = (e, ctx) => {
  const own = watchedHosts(e);
  const others = Object.values(ctx.fleet).filter((x) => x.stack !== e.stack);
  const remote = others.map((x) => ({ stack: x.stack, hosts: watchedHosts(x) }));
  return routedHosts(e).flatMap(({ host, c }): Finding[] => {
    const out: Finding[] = [];
    if (role(c) !== "gatus" && !own.has(host))
      out.push(
        finding(
          "monitored",
          e,
          c.resource,
          `https://${host} is not watched by ${e.stack}'s own Gatus: derive its endpoint with serviceEndpoints() and pass it to Gatus as local`,
        ),
      );
    if (!remote.some((r) => r.hosts.has(host)))
      out.push(
        finding(
          "monitored",
          e,
          c.resource,
          `https://${host} is not watched from any other server${remote.length ? ` (checked ${remote.map((r) => r.stack).join(", ")})` : ""}: publish it in the endpoints output and list ${e.stack} in another server's peers`,
        ),
      );
    return out;
  });
};

/**
 * Every routed host belongs to one server of the fleet. DNS sends a name to one machine, so a
 * host two servers route is served by one of them and silently missing on the other; the
 * usual cause is two stack files with the same `domain`. Needs the fleet.
 */
export const uniqueHosts: Guardrail = (e, ctx) => {
  const others = Object.values(ctx.fleet)
    .filter((x) => x.stack !== e.stack)
    .map((x) => ({ stack: x.stack, hosts: new Set(routedHosts(x).map((r) => r.host)) }));
  return routedHosts(e).flatMap(({ host, c }): Finding[] => {
    const also = others.filter((o) => o.hosts.has(host)).map((o) => o.stack);
    if (also.length === 0) return [];
    return [
      finding(
        "unique-hosts",
        e,
        c.resource,
        `https://${host} is also routed by ${also.join(", ")}: DNS can send it to one server only. Two servers share a domain (or a service takes another server's host): give each server its own domain`,
      ),
    ];
  });
};
