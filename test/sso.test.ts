/**
 * Single sign-on (issue 14): Authelia on cloud in front of every admin UI of the fleet.
 *
 * Upstream, read at github:authelia/authelia tag v4.39.20 and github:traefik/traefik tag v3.5.3:
 * - Authelia's JSON Schemas for v4.39 (test/schemas/authelia-v4.39-*.json, vendored);
 * - the rules of its configuration validator the schemas do not express
 *   (internal/configuration/validator/const.go);
 * - how it reads secrets from files (internal/configuration/helpers.go:88, const.go:10-18);
 * - what its forward-auth endpoint answers (internal/handlers/handler_authz_impl_forwardauth.go);
 * - what Traefik does with X-Forwarded-* headers (pkg/middlewares/forwardedheaders).
 */
import { verify } from "@node-rs/argon2";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { asPeerOutputs, evaluateStack, type Evaluation } from "../cli/evaluate";
import home from "../stacks/home";
import type { StackContext } from "../stacks/types";
import { IMAGES } from "../components/defaults";
import {
  AUTHELIA_PATHS,
  AUTHELIA_SECRET_KEYS,
  AUTHELIA_VERSION,
  AUTHZ_PORT,
  argon2idDigest,
  secretFileEnv,
} from "../configs/authelia";
import { AUTHZ_ENTRYPOINT, TRAEFIK_PATHS } from "../configs/traefik";
import { checkStack } from "../lib/guardrails";
import { intentOf } from "../lib/guardrails/intent";
import { loadStackConfig } from "../lib/program";
import { broken, dockerContainer, problemsOf, referenceRaw, setLabel } from "./fixtures/broken";
import {
  ROOT,
  container,
  envs,
  evaluateReference,
  labels,
  referenceConfig,
  referenceFleet,
  reveal,
  uploadOf,
} from "./helpers";

const schema = (f: string) =>
  JSON.parse(readFileSync(join(ROOT, "test", "schemas", f), "utf8")) as object;
// The schemas' patterns are written for Go's regexp, which reads `\<` as "<"; JavaScript does
// too, but only without the `u` flag Ajv sets by default (unicodeRegExp).
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true, unicodeRegExp: false }));
const validConfig = ajv.compile(schema("authelia-v4.39-configuration.json"));
const validUsers = ajv.compile(schema("authelia-v4.39-user-database.json"));

const text = (e: Evaluation, name: string, file: string) => {
  const u = uploadOf(container(e, name), file);
  if (!u) throw new Error(`${name} has no upload ${file}`);
  return String(reveal(u.content));
};

let fleet: Record<string, Evaluation>;
beforeAll(async () => {
  fleet = (await referenceFleet()).evaluations;
});

/** `stack` of a copy of the fleet, with one label of one container set to `value`. */
const relabel = (stack: string, name: string, label: string, value: string) =>
  broken(fleet, (f) => setLabel(dockerContainer(f[stack]!, name), label, value))[stack]!;

describe("Authelia on the SSO server (cloud)", () => {
  it("runs the pinned version whose schemas are vendored", () => {
    expect(IMAGES.authelia).toBe(`authelia/authelia:${AUTHELIA_VERSION}`);
    for (const s of ["home", "offsite"])
      expect(() => container(fleet[s]!, "authelia"), s).toThrow();
  });

  it("configuration.yml validates against Authelia's own schema for v4.39", () => {
    const doc = parse(text(fleet.cloud!, "authelia", AUTHELIA_PATHS.config));
    const ok = validConfig(doc);
    expect(validConfig.errors ?? [], JSON.stringify(validConfig.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it("the schema check can fail: an unknown key and a wrong type are refused", () => {
    const doc = parse(text(fleet.cloud!, "authelia", AUTHELIA_PATHS.config));
    expect(validConfig({ ...doc, sesion: {} })).toBe(false);
    expect(validConfig({ ...doc, access_control: { default_policy: 7 } })).toBe(false);
  });

  it("passes the validator rules the schema does not express (validator/const.go)", () => {
    const doc = parse(text(fleet.cloud!, "authelia", AUTHELIA_PATHS.config));
    const [cookie, ...more] = doc.session.cookies;
    expect(more).toEqual([]);
    // :405 a cookie domain needs a period; :402 authelia_url shares the cookie scope; :401 https.
    expect(cookie.domain).toBe("example.com");
    expect(cookie.authelia_url).toBe("https://auth.cloud.example.com");
    const url = new URL(cookie.authelia_url);
    expect(url.protocol).toBe("https:");
    expect(url.hostname.endsWith(`.${cookie.domain}`)).toBe(true);
    // :64 a notifier must be configured; there is no SMTP here, so the filesystem one.
    expect(doc.notifier).toEqual({ filesystem: { filename: AUTHELIA_PATHS.notifications } });
    expect(doc.storage.local.path.startsWith(`${AUTHELIA_PATHS.data}/`)).toBe(true);
    // Forward auth reads the session cookie only, never an Authorization header: that belongs
    // to the app behind it (Gatus' Basic login) and must not be judged as an Authelia login
    // (schema/server.go:131-141; handlers/handler_authz_authn.go:306-320, 428-433).
    expect(doc.server.endpoints.authz).toEqual({
      "forward-auth": {
        implementation: "ForwardAuth",
        authn_strategies: [{ name: "CookieSession" }],
      },
    });
    // Deny by default; every rule needs two factors; admins may use every admin UI.
    expect(doc.access_control.default_policy).toBe("deny");
    expect(doc.access_control.rules).toEqual([
      {
        domain: ["example.com", "*.example.com"],
        policy: "two_factor",
        subject: ["group:admins"],
      },
    ]);
  });

  it("gets every secret as a file, in the variable Authelia reads (helpers.go:88)", () => {
    const c = container(fleet.cloud!, "authelia");
    const env = envs(c).values;
    // internal/configuration/schema/keys.go:282, :435, :436 list these keys.
    expect(
      Object.keys(env)
        .filter((k) => k.startsWith("AUTHELIA_"))
        .sort(),
    ).toEqual([
      "AUTHELIA_IDENTITY_VALIDATION_RESET_PASSWORD_JWT_SECRET_FILE",
      "AUTHELIA_SESSION_SECRET_FILE",
      "AUTHELIA_STORAGE_ENCRYPTION_KEY_FILE",
    ]);
    for (const key of AUTHELIA_SECRET_KEYS) {
      const file = env[secretFileEnv(key)]!;
      const u = uploadOf(c, file)!;
      expect(u.secret, key).toBe(true);
      expect(u.permissions).toBe("0400");
      // const.go:157: the storage encryption key must be 20 characters or longer.
      expect(u.content.length, key).toBeGreaterThanOrEqual(20);
      // Never in the configuration file itself.
      expect(text(fleet.cloud!, "authelia", AUTHELIA_PATHS.config)).not.toContain(u.content);
    }
  });

  it("users_database.yml validates against Authelia's schema; each digest verifies with an independent argon2", async () => {
    const c = container(fleet.cloud!, "authelia");
    const u = uploadOf(c, AUTHELIA_PATHS.users)!;
    expect(u.secret).toBe(true); // it holds the digests
    const doc = parse(u.content);
    expect(validUsers(doc), JSON.stringify(validUsers.errors)).toBe(true);
    expect(Object.keys(doc.users)).toEqual(["alice", "bob"]);
    expect(doc.users.alice.groups).toEqual(["admins"]);
    expect(doc.users.bob.groups).toEqual(["family"]);
    const passwords = reveal(fleet.cloud!.outputs.credentials) as { sso: Record<string, string> };
    for (const [name, user] of Object.entries(doc.users) as [string, { password: string }][]) {
      expect(user.password).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=4\$/);
      expect(await verify(user.password, passwords.sso[name]!), name).toBe(true);
      expect(await verify(user.password, `${passwords.sso[name]}x`), name).toBe(false);
    }
  });

  it("the digest is a function of password and salt only: no diff between runs", async () => {
    const salt = Buffer.from("0123456789abcdef");
    const a = await argon2idDigest("pw", salt);
    expect(await argon2idDigest("pw", salt)).toBe(a);
    expect(await argon2idDigest("pw", Buffer.from("fedcba9876543210"))).not.toBe(a);
    const again = await evaluateReference("cloud", { peers: {} });
    expect(text(again, "authelia", AUTHELIA_PATHS.users)).toBe(
      String(reveal(uploadOf(container(fleet.cloud!, "authelia"), AUTHELIA_PATHS.users)!.content)),
    );
  });

  it("is watched by its own Gatus and by the peers' (GET /api/health, handler_health.go)", () => {
    for (const s of ["cloud", "home", "offsite"]) {
      const gatus = parse(text(fleet[s]!, "gatus", "/config/config.yaml"));
      const ep = gatus.endpoints.find(
        (x: { url: string }) => x.url === "https://auth.cloud.example.com/api/health",
      );
      expect(ep, s).toBeDefined();
    }
  });
});

describe("forward auth: every admin route of every server goes through the SSO", () => {
  const dynamic = (s: string) =>
    parse(text(fleet[s]!, "traefik", TRAEFIK_PATHS.dynamic)) as {
      http: { middlewares: Record<string, Record<string, { address?: string }>> };
    };

  it("cloud's Traefik asks its Authelia by container name; home's and offsite's ask cloud's authz entry point", () => {
    expect(dynamic("cloud").http.middlewares["admin-auth"]!.forwardAuth!.address).toBe(
      "http://authelia:9091/api/authz/forward-auth",
    );
    for (const s of ["home", "offsite"])
      expect(dynamic(s).http.middlewares["admin-auth"]!.forwardAuth!.address, s).toBe(
        `https://auth.cloud.example.com:${AUTHZ_PORT}/api/authz/forward-auth`,
      );
  });

  it("every router marked admin on every server names admin-auth (the guardrail agrees)", () => {
    for (const [s, e] of Object.entries(fleet)) {
      const findings = checkStack(e, {
        fleet,
        intent: { [s]: intentOf(s, referenceRaw(s)) },
      }).filter((f) => f.check === "admin-auth");
      expect(findings, s).toEqual([]);
    }
  });

  /**
   * The router Traefik picks for a URL among a container's label routers: the matching one with
   * the highest priority, which by default is the length of its rule (traefik v3.5.3
   * pkg/server/router/router.go:141-143 → pkg/muxer/http/mux.go:66-69). Rules here are
   * `Host(…)` optionally `&& (Path(…) || …)`.
   */
  function routerFor(l: Record<string, string>, url: string) {
    const u = new URL(url);
    const matching = Object.entries(l)
      .filter(([k]) => /^traefik\.http\.routers\.[^.]+\.rule$/.test(k))
      .filter(([, rule]) => {
        const host = /Host\(`([^`]+)`\)/.exec(rule)?.[1];
        const paths = [...rule.matchAll(/Path\(`([^`]+)`\)/g)].map((m) => m[1]);
        return host === u.hostname && (paths.length === 0 || paths.includes(u.pathname));
      })
      .sort(([, a], [, b]) => b.length - a.length);
    const name = matching[0]?.[0].split(".")[3];
    return { name, middlewares: (name && l[`traefik.http.routers.${name}.middlewares`]) || "" };
  }

  it("Gatus' status page and Syncthing's GUI go through the SSO; the health paths the peers check stay open", () => {
    for (const s of ["cloud", "home", "offsite"]) {
      for (const [name, sub] of [
        ["gatus", "status"],
        ["syncthing", "sync"],
      ] as const) {
        const l = labels(container(fleet[s]!, name));
        const page = routerFor(l, `https://${sub}.${s}.example.com/`);
        expect(page.middlewares.split(","), `${s} ${name} /`).toContain("admin-auth@file");
        // What the other servers' Gatus check on it, from their rendered configs.
        const watched = Object.entries(fleet)
          .filter(([other]) => other !== s)
          .flatMap(([, e]) => parse(text(e, "gatus", "/config/config.yaml")).endpoints)
          .map((x: { url: string }) => x.url)
          .filter((url: string) => url.startsWith(`https://${sub}.${s}.example.com/`));
        expect(watched.length, `${s} ${name}`).toBeGreaterThan(0);
        for (const url of watched) {
          const r = routerFor(l, url);
          expect(r.name, url).toBe(`${name}-open`);
          expect(r.middlewares.split(","), url).not.toContain("admin-auth@file");
        }
      }
    }
  });

  it("a Gatus router left outside the SSO is a guardrail finding", () => {
    const e = relabel(
      "home",
      "gatus",
      "traefik.http.routers.gatus.middlewares",
      "secure-headers@file",
    );
    const found = checkStack(e, {
      fleet,
      intent: { home: intentOf("home", referenceRaw("home")) },
    });
    expect(found.filter((f) => f.check === "admin-auth").map((f) => f.message)).toEqual([
      'the fleet has single sign-on but router "gatus" of "gatus" does not go through it: add admin-auth@file to its middlewares (routes open on purpose must be limited to exact paths)',
    ]);
  });

  it("the authz entry point keeps the peers' X-Forwarded-* headers, and only Authelia's authz API is on it", () => {
    // forwarded_header.go:190-195: unless trusted, every X-Forwarded-* header (xHeaders, :31-43,
    // X-Forwarded-Host and -Uri among them) is deleted before Traefik sets its own; through
    // websecure, Authelia would judge a peer's request as one for auth.cloud.example.com.
    const stat = parse(text(fleet.cloud!, "traefik", TRAEFIK_PATHS.static));
    expect(stat.entryPoints[AUTHZ_ENTRYPOINT]).toEqual({
      address: `:${AUTHZ_PORT}`,
      forwardedHeaders: { insecure: true },
      http: stat.entryPoints.websecure.http,
    });
    for (const s of ["home", "offsite"]) {
      const other = parse(text(fleet[s]!, "traefik", TRAEFIK_PATHS.static));
      expect(other.entryPoints[AUTHZ_ENTRYPOINT], s).toBeUndefined();
    }
    const routers = Object.entries(labels(container(fleet.cloud!, "authelia")))
      .filter(([k, v]) => /^traefik\.http\.routers\.[^.]+\.entrypoints$/.test(k) && v === "authz")
      .map(([k]) => k.split(".")[3]!);
    expect(routers).toEqual(["authelia-authz"]);
    expect(
      labels(container(fleet.cloud!, "authelia"))["traefik.http.routers.authelia-authz.rule"],
    ).toBe("Host(`auth.cloud.example.com`) && PathPrefix(`/api/authz/`)");
    const ports = reveal(container(fleet.cloud!, "traefik").inputs.ports) as { external: number }[];
    expect(ports.map((p) => p.external)).toContain(AUTHZ_PORT);
  });

  it("a route on the authz entry point that is not Authelia's authz API is a guardrail finding", () => {
    const e = relabel(
      "home",
      "vaultwarden",
      "traefik.http.routers.vaultwarden.entrypoints",
      AUTHZ_ENTRYPOINT,
    );
    const found = checkStack(e, { fleet }).filter((f) => f.check === "routed-tls-headers");
    expect(found.map((f) => f.message)).toEqual([
      expect.stringContaining(
        `listens on "${AUTHZ_ENTRYPOINT}", which trusts clients' X-Forwarded-* headers`,
      ),
    ]);
  });

  it("Authelia's authz router may not match more than its API: && binds tighter than ||", () => {
    const e = relabel(
      "cloud",
      "authelia",
      "traefik.http.routers.authelia-authz.rule",
      "Host(`traefik.cloud.example.com`) || Host(`auth.cloud.example.com`) && PathPrefix(`/api/authz/`)",
    );
    const found = checkStack(e, { fleet }).filter((f) => f.check === "routed-tls-headers");
    expect(found.map((f) => f.message)).toEqual([
      expect.stringContaining(`router "authelia-authz" listens on "${AUTHZ_ENTRYPOINT}"`),
    ]);
  });

  it("with SSO configured, a dashboard left on basic auth is a guardrail finding", async () => {
    // home's first deploy, before cloud publishes its sso output: basic auth stays, said twice.
    const first = await evaluateReference("home", { peers: {} });
    expect(first.warnings.join("\n")).toContain(
      'SSO server "cloud" publishes no sso output yet: admin UIs here keep their basic-auth login',
    );
    const mw = parse(text(first, "traefik", TRAEFIK_PATHS.dynamic)).http.middlewares["admin-auth"];
    expect(Object.keys(mw)).toEqual(["basicAuth"]);
    const findings = checkStack(first, {
      fleet: { ...fleet, home: first },
      intent: { home: intentOf("home", referenceRaw("home")) },
    }).filter((f) => f.check === "admin-auth");
    expect(findings.map((f) => f.message)).toEqual([
      'dashboard router "dashboard" does not go through the single sign-on: admin-auth must be its forwardAuth middleware (before the SSO server\'s first deploy there is none: deploy it first)',
    ]);
  });

  it.each([
    [
      "another host",
      {
        url: "https://x",
        forwardAuth: "https://evil.example.net:9443/api/authz/forward-auth",
        cookieDomain: "example.net",
      },
    ],
    [
      "YAML in the address",
      {
        url: "https://x",
        forwardAuth: "https://auth.cloud.example.com:9443/api/authz/forward-auth\n  x: 1",
        cookieDomain: "example.com",
      },
    ],
    [
      "no cookie domain",
      {
        url: "https://x",
        forwardAuth: "https://auth.cloud.example.com:9443/api/authz/forward-auth",
      },
    ],
  ])(
    "a peer's sso output that cannot be used (%s) leaves basic auth and says why",
    async (_, sso) => {
      const cloud = asPeerOutputs(fleet.cloud!);
      cloud.outputs.sso = sso;
      const e = await evaluateReference("home", { peers: { cloud } });
      const mw = parse(text(e, "traefik", TRAEFIK_PATHS.dynamic)).http.middlewares["admin-auth"];
      expect(Object.keys(mw)).toEqual(["basicAuth"]);
      expect(e.warnings.join("\n")).toMatch(/SSO(:| server "cloud")/);
    },
  );
});

describe("routes open to other groups (http.groups)", () => {
  const withFamily = (ctx: StackContext) => {
    const d = home(ctx);
    return {
      ...d,
      services: d.services.map((x) =>
        x.name === "home-assistant" ? { ...x, http: { ...x.http!, groups: ["family"] } } : x,
      ),
    };
  };

  it("go through the SSO, and the SSO server lets the group in, before the admins-only rule", async () => {
    const homeEval = await evaluateStack("home", referenceConfig("home"), {
      quiet: true,
      declare: withFamily,
      peers: { cloud: asPeerOutputs(fleet.cloud!), offsite: asPeerOutputs(fleet.offsite!) },
    });
    const l = labels(container(homeEval, "home-assistant"));
    expect(l["traefik.http.routers.home-assistant.middlewares"]!.split(",")).toContain(
      "admin-auth@file",
    );
    // Gatus gets Authelia's 401 there, like on any admin route.
    const gatus = parse(text(homeEval, "gatus", "/config/config.yaml"));
    const ha = gatus.endpoints.find((x: { name: string }) => x.name === "home-assistant");
    expect(ha.conditions[0]).toBe("[STATUS] == 401");
    expect(reveal(homeEval.outputs.ssoRoutes)).toEqual([
      { host: "ha.home.example.com", groups: ["family"] },
    ]);
    const cloud = await evaluateReference("cloud", {
      peers: { home: asPeerOutputs(homeEval), offsite: asPeerOutputs(fleet.offsite!) },
    });
    const doc = parse(text(cloud, "authelia", AUTHELIA_PATHS.config));
    expect(validConfig(doc), JSON.stringify(validConfig.errors)).toBe(true);
    expect(doc.access_control.rules).toEqual([
      {
        domain: ["ha.home.example.com"],
        policy: "two_factor",
        subject: ["group:admins", "group:family"],
      },
      {
        domain: ["example.com", "*.example.com"],
        policy: "two_factor",
        subject: ["group:admins"],
      },
    ]);
  });

  it("need the single sign-on, and group names", () => {
    const raw = referenceRaw("home", { sso: "" });
    expect(problemsOf(() => loadStackConfig("home", raw, withFamily))).toEqual([
      "services.home-assistant.http.groups: groups need the single sign-on, which checks them: set homelab:sso to the stack that runs it, or remove groups",
    ]);
  });

  it("a peer's ssoRoutes outside the cookie domain or with odd group names are left out, with a warning", async () => {
    const homeOut = asPeerOutputs(fleet.home!);
    homeOut.outputs.ssoRoutes = [
      { host: "ha.home.example.com", groups: ["family"] },
      { host: "bank.example.net", groups: ["family"] },
      { host: "x.home.example.com", groups: ["admins\n- x"] },
      // Not home's to open: the SSO server's own dashboard, a standard component, a host home
      // does not serve.
      { host: "traefik.cloud.example.com", groups: ["family"] },
      { host: "sync.home.example.com", groups: ["family"] },
      { host: "photos2.home.example.com", groups: ["family"] },
    ];
    // offsite claims a route of home's.
    const offsiteOut = asPeerOutputs(fleet.offsite!);
    offsiteOut.outputs.ssoRoutes = [{ host: "ha.home.example.com", groups: ["guests"] }];
    const cloud = await evaluateReference("cloud", {
      peers: { home: homeOut, offsite: offsiteOut },
    });
    const doc = parse(text(cloud, "authelia", AUTHELIA_PATHS.config));
    expect(doc.access_control.rules.map((r: { domain: string[] }) => r.domain)).toEqual([
      ["ha.home.example.com"],
      ["example.com", "*.example.com"],
    ]);
    expect(doc.access_control.rules[0].subject).toEqual(["group:admins", "group:family"]);
    for (const peer of ["home", "offsite"])
      expect(cloud.warnings.join("\n")).toContain(
        `peer "${peer}" published ssoRoutes this server cannot use`,
      );
  });
});

describe("SSO config", () => {
  const parseWith = (stack: string, overrides: Record<string, unknown>) =>
    problemsOf(() => loadStackConfig(stack, referenceRaw(stack, overrides)));

  it.each([
    [
      "cloud",
      { ssoUsers: ["alice:alice@example.com:admins", "alice:a2@example.com:admins"] },
      'ssoUsers[1]: user "alice" is listed twice',
    ],
    [
      "cloud",
      { ssoUsers: ["alice alice@example.com admins"] },
      'ssoUsers[0]: expected "name:email:group1,group2" (e.g. "alice:alice@example.com:admins"), got "alice alice@example.com admins"',
    ],
    [
      "cloud",
      { ssoUsers: ["bob:bob@example.com:family"] },
      'ssoUsers: this stack runs the single sign-on (sso: cloud) but no user is in group "admins", so nobody could open an admin UI: add one, e.g. "alice:alice@example.com:admins"',
    ],
    [
      "home",
      { ssoUsers: ["alice:alice@example.com:admins"] },
      'ssoUsers: users belong in the stack file of the SSO server "cloud", not here',
    ],
    ["home", { sso: "nas" }, 'sso: "nas" must be this stack or one of peers (["cloud","offsite"])'],
    [
      "cloud",
      { domain: "cloud.duckdns.org" },
      'sso: this stack runs the single sign-on, so its session cookie is set for the parent of its domain "cloud.duckdns.org", but "duckdns.org" is a public suffix (anyone can have a name under it), which Authelia refuses: give the servers domains under one you own',
    ],
    [
      "cloud",
      { domain: "example.com" },
      'sso: this stack runs the single sign-on, so its session cookie is set for the parent of its domain "example.com", which has no parent with a dot; give it a domain like auth-host.example.com',
    ],
  ])("%s %j: %s", (stack, overrides, message) => {
    expect(parseWith(stack, overrides)).toContain(message);
  });
});
