/**
 * Gatus semantics, ported from its source, applied to what the program renders: conditions
 * evaluated the way Gatus evaluates them, heartbeats counted the way its watchdog counts them,
 * and the config file expanded the way Gatus expands it before parsing.
 *
 * Upstream: TwiN/gatus at tag v5.25.2 (the image components/defaults.ts pins), read from
 * `git show v5.25.2:<path>`. Line numbers below are at that tag.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { containerNamed, labelsOf, uploadText } from "../cli/report-read";
import {
  GATUS_ENV,
  GatusInput,
  gatusEnvScalar,
  heartbeatInterval,
  renderGatusConfig,
  serviceEndpoints,
} from "../configs/gatus";
import { cronMaxGapMinutes } from "../configs/cron";
import type { ResolvedService } from "../lib/model";
import { container, envs, evaluateReference, referenceFleet } from "./helpers";

// ---------------------------------------------------------------------------------------------
// Port of the condition evaluation (config/endpoint/condition.go, placeholder.go,
// jsonpath/jsonpath.go). Only what the program can generate is ported; anything else throws,
// so a new kind of condition fails this test until the port covers it.
// ---------------------------------------------------------------------------------------------

/** The parts of endpoint.Result a condition reads. */
interface Result {
  httpStatus?: number;
  body?: string;
  connected?: boolean;
  /** Milliseconds. */
  certificateExpiration?: number;
}

const NOT_PORTED = [
  "[IP]",
  "[DNS_RCODE]",
  "[RESPONSE_TIME]",
  "[DOMAIN_EXPIRATION]",
  "[CONTEXT]",
  "len(",
  "has(",
  "pat(",
  "any(",
];

/** fmt.Sprintf("%v", x) of a decoded JSON scalar, for the values ported. */
function goV(x: unknown): string {
  if (typeof x === "boolean") return String(x);
  if (typeof x === "number") {
    // float64 %v is %g with the shortest digits; exponent form from 1e6 on or below 1e-4.
    const exp = x === 0 ? 0 : Number(x.toExponential().split("e")[1]);
    if (exp < -4 || exp >= 6) throw new Error(`not ported: %v of ${x}`);
    return String(x);
  }
  throw new Error(`not ported: %v of ${JSON.stringify(x)}`);
}

/** jsonpath.Eval (jsonpath/jsonpath.go:11-67) for dotted keys into objects. */
function jsonpathEval(path: string, body: string): string {
  if (path.includes("[")) throw new Error(`not ported: jsonpath ${path}`);
  let object: unknown = JSON.parse(body); // json.Unmarshal; a non-JSON body is an error (:17)
  const keys = path.split(".");
  for (let i = 0; i < keys.length; i++) {
    const value =
      object && typeof object === "object" && !Array.isArray(object)
        ? (object as Record<string, unknown>)[keys[i]!]
        : object;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      if (i === keys.length - 1) return JSON.stringify(value); // :46-51
      object = value;
      continue;
    }
    if (typeof value === "string") {
      if (i < keys.length - 1) throw new Error("string instead of object"); // :55-57
      return value; // :58, the string itself, no quotes
    }
    if (value === undefined || value === null) throw new Error("no value"); // :64-65
    return goV(value); // :61-63
  }
  throw new Error("unreachable");
}

/** ResolvePlaceholder (placeholder.go:126-191). */
function resolvePlaceholder(element: string, r: Result): string {
  const p = element.trim();
  for (const n of NOT_PORTED)
    if (p.toUpperCase().startsWith(n.toUpperCase())) throw new Error(`not ported: ${p}`);
  const upper = p.toUpperCase();
  switch (upper) {
    case "[STATUS]":
      return String(r.httpStatus ?? 0); // :142-143
    case "[CONNECTED]":
      return String(r.connected ?? false); // :150-151
    case "[CERTIFICATE_EXPIRATION]":
      return String(Math.trunc(r.certificateExpiration ?? 0)); // :152-153
    case "[BODY]":
      return (r.body ?? "").trim(); // :156-157, 171
  }
  if (upper.startsWith("[BODY].") || upper.startsWith("[BODY][")) {
    // :175-177, 207-228: an unresolvable path becomes "<element> (INVALID)".
    const path = p.slice("[BODY]".length).replace(/^\./, "");
    try {
      return jsonpathEval(path, r.body ?? "");
    } catch (e) {
      if (String(e).includes("not ported")) throw e;
      return `${p} (INVALID)`;
    }
  }
  return p; // :188-190: anything else is a literal, compared as written (quotes included)
}

/** strconv.ParseInt(s, 0, 64) for the forms a condition here can hold; undefined on error. */
function parseIntBase0(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const [, sign, digits] = m;
  const v = /^0[xX]/.test(digits!)
    ? parseInt(digits!.slice(2), 16)
    : digits!.length > 1 && digits!.startsWith("0")
      ? parseInt(digits!.slice(1), 8)
      : parseInt(digits!, 10);
  return sign === "-" ? -v : v;
}

/** time.ParseDuration in milliseconds (truncated like Duration.Milliseconds); undefined on error. */
function parseDurationMs(s: string): number | undefined {
  const unit: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1e3,
    m: 60e3,
    h: 3600e3,
  };
  if (s === "0") return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(s);
  if (!m) return undefined;
  let total = 0;
  for (const part of s.replace(/^[+-]/, "").matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g))
    total += Number(part[1]) * unit[part[2]!]!;
  return Math.trunc(m[1] === "-" ? -total : total);
}

/** isEqual (condition.go:111-165) without pat()/any(), which resolvePlaceholder refuses. */
function isEqual(first: string, second: string): boolean {
  const a = parseIntBase0(first);
  const b = parseIntBase0(second);
  if (a !== undefined && b !== undefined) return a === b; // :158-162
  return first === second; // :164
}

/** sanitizeAndResolveNumericalWithContext (condition.go:188-209). */
function numerical(element: string, r: Result): number {
  const v = resolvePlaceholder(element, r);
  const d = parseDurationMs(v);
  if (d !== undefined && d !== 0) return d; // :191-193
  const i = parseIntBase0(v);
  if (i !== undefined) return i; // :204-205
  const f = Number(v);
  return v.trim() !== "" && Number.isFinite(f) ? Math.trunc(f) : 0; // :196-202
}

/** Condition.evaluate (condition.go:37-86): the operator is found by " op " in this order. */
export function evaluateCondition(condition: string, r: Result): boolean {
  const ops = [" == ", " != ", " <= ", " >= ", " > ", " < "] as const;
  const op = ops.find((o) => condition.includes(o));
  if (!op) throw new Error(`invalid condition: ${condition}`); // :77-79
  const parts = condition.split(op); // strings.Split; [0] and [1] are used
  if (op === " == " || op === " != ") {
    const eq = isEqual(resolvePlaceholder(parts[0]!, r), resolvePlaceholder(parts[1]!, r));
    return op === " == " ? eq : !eq;
  }
  const [x, y] = [numerical(parts[0]!, r), numerical(parts[1]!, r)];
  return op === " <= " ? x <= y : op === " >= " ? x >= y : op === " > " ? x > y : x < y;
}

describe("the condition port agrees with Gatus' own tests", () => {
  // TwiN/gatus v5.25.2 config/endpoint/condition_test.go, the cases at the lines named.
  it.each([
    ["[BODY].status == UP", { body: '{"status":"UP"}' }, true, 217],
    ["[BODY].data.name == john", { body: '{"data": {"id": 1, "name": "john"}}' }, true, 224],
    ["[BODY].data.name == john", { body: '{"data": {"id": 1}}' }, false, 231],
    ["[BODY].data.id == 1", { body: '{"data": {"id": 1}}' }, true, 294],
    ["[STATUS] == 200", { httpStatus: 500 }, false, 84],
    ["[STATUS] < 300", { httpStatus: 201 }, true, 91],
    ["[CONNECTED] == true", { connected: true }, true, 448],
    ["[CONNECTED] == true", { connected: false }, false, 455],
    ["[CERTIFICATE_EXPIRATION] > 48h", { certificateExpiration: 86_400_000 }, false, 490],
  ] as [string, Result, boolean, number][])(
    "%s on %j → %s (condition_test.go:%i)",
    (c, r, expected) => {
      expect(evaluateCondition(c, r)).toBe(expected);
    },
  );

  it("a quoted right-hand side is compared with its quotes (condition.go:164, placeholder.go:188-190)", () => {
    expect(evaluateCondition('[BODY].status == "UP"', { body: '{"status":"UP"}' })).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// What the real services answer.
// ---------------------------------------------------------------------------------------------

const DAY = 86_400_000;
/**
 * Certificates: Let's Encrypt issues 90-day certificates and Traefik renews them 30 days before
 * they expire, so a healthy route always has at least ~30 days left.
 */
const CERT_LEFT = 30 * DAY;

/** The answer of each standard component's health URL, with its source. */
const COMPONENT_ANSWERS: Record<string, Result> = {
  // TwiN/gatus v5.25.2 api/api.go:94-98 → TwiN/health v1.6.0 health.go:61-68 (json.Marshal of
  // {Status: "UP"}, reason omitted when empty), status.go:7.
  gatus: { httpStatus: 200, body: '{"status":"UP"}' },
  // syncthing/syncthing v1.29.5 lib/api/api.go:266, 1641-1642, sendJSON :203-214
  // (json.MarshalIndent with two spaces, then "\n").
  syncthing: { httpStatus: 200, body: '{\n  "status": "OK"\n}\n' },
  // binwiederhier/ntfy (81a486a, the newest stored) server/server.go:572-577, writeJSON
  // :2041-2047 (json.NewEncoder → trailing "\n"), types.go:250 `json:"healthy"`.
  ntfy: { httpStatus: 200, body: '{"healthy":true}\n' },
  // The dashboard router has admin auth (configs/traefik.ts), and Gatus sends no login. Basic
  // auth: traefik/traefik pkg/middlewares/auth/basic_auth.go ServeHTTP → RequireAuth, a 401.
  // Single sign-on: Authelia's forward-auth answers 401 to a request that does not accept
  // text/html (authelia v4.39.20 internal/handlers/handler_authz_impl_forwardauth.go:39-41,
  // AcceptsMIME internal/middlewares/authelia_context.go:626-637: an absent Accept header accepts
  // nothing, and Gatus v5.25.2 sets none), and Traefik returns that status as it is
  // (traefik v3.5.3 pkg/middlewares/auth/forward.go:233-256).
  traefik: { httpStatus: 401, body: "401 Unauthorized\n" },
  // authelia v4.39.20 internal/server/handlers.go:218-219 → handlers/handler_health.go ReplyOK →
  // middlewares/const.go:157 okMessageBytes.
  sso: { httpStatus: 200, body: '{"status":"OK"}' },
};

interface RenderedEndpoint {
  name: string;
  group: string;
  url: string;
  conditions: string[];
}

describe("every condition the reference fleet renders passes against the real answer", () => {
  it("for every endpoint of every server's Gatus", async () => {
    const { evaluations } = await referenceFleet();
    const failures: string[] = [];
    let checked = 0;
    for (const [stack, e] of Object.entries(evaluations)) {
      const gatus = containerNamed(e, "gatus")!;
      const text = uploadText(gatus, "/config/config.yaml")!;
      const doc = parse(gatusExpand(text, envs(gatus).values)) as { endpoints: RenderedEndpoint[] };
      for (const ep of doc.endpoints) {
        const answer = realAnswer(ep, evaluations);
        for (const c of ep.conditions) {
          checked++;
          if (!evaluateCondition(c, answer))
            failures.push(`${stack}: ${ep.group}/${ep.name} ${ep.url}: ${c}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
    expect(failures).toEqual([]);
  });

  /**
   * What `ep` answers: a standard component's known answer; a published port connects (and
   * has a valid certificate where TLS is checked); a service's route answers Traefik's 401 when
   * its router has basic auth, else the status its stack declares for its health path.
   */
  function realAnswer(
    ep: RenderedEndpoint,
    evaluations: Record<string, Parameters<typeof containerNamed>[0]>,
  ): Result {
    if (!ep.url.startsWith("https://"))
      return { connected: true, certificateExpiration: CERT_LEFT };
    const known = COMPONENT_ANSWERS[ep.name];
    if (known) return { ...known, certificateExpiration: CERT_LEFT, connected: true };
    const c = containerNamed(evaluations[ep.group]!, ep.name);
    if (!c) throw new Error(`no container ${ep.name} on ${ep.group} answers ${ep.url}`);
    const labels = labelsOf(c);
    const admin = (labels[`traefik.http.routers.${ep.name}.middlewares`] ?? "").includes(
      "admin-auth",
    );
    const declared = Number(/^\[STATUS\] == (\d+)$/.exec(ep.conditions[0]!)?.[1] ?? NaN);
    return {
      httpStatus: admin ? 401 : declared,
      body: "",
      certificateExpiration: CERT_LEFT,
      connected: true,
    };
  }
});

// ---------------------------------------------------------------------------------------------
// Heartbeats: the watchdog (watchdog/external_endpoint.go), the push API
// (api/external_endpoint.go) and the alert counters (watchdog/alerting.go), simulated.
// ---------------------------------------------------------------------------------------------

const HOUR = 3_600_000;

function goDurationMs(s: string): number {
  const d = parseDurationMs(s);
  if (d === undefined) throw new Error(`not a Go duration: ${s}`);
  return d;
}

/** The alert of a rendered external endpoint after Gatus merges the provider's default alert. */
function mergedAlert(doc: Record<string, any>, alert: Record<string, any>) {
  const def = doc.alerting[alert.type]["default-alert"] ?? {};
  // alerting/provider/provider.go:81-86: a 0 (absent) threshold takes the default's.
  // alerting/alert/alert.go:77-82: still 0 → 3 and 2.
  return {
    failureThreshold: alert["failure-threshold"] || def["failure-threshold"] || 3,
    successThreshold: alert["success-threshold"] || def["success-threshold"] || 2,
  };
}

/**
 * Times (ms) at which the alert triggers and resolves, given the pushes (time, success) and the
 * watchdog's first tick. Ticks come every interval (external_endpoint.go:15-23); a tick with
 * no result newer than now - interval records one failure (:43-65) and runs HandleAlerting
 * (:75); a push records its result and runs HandleAlerting (api/external_endpoint.go:46-75).
 * HandleAlerting: failures++ and trigger at failures >= failure-threshold
 * (alerting.go:28-37); successes++ and resolve at successes >= success-threshold (:84-93).
 */
function simulate(
  intervalMs: number,
  alert: { failureThreshold: number; successThreshold: number },
  pushes: { at: number; success: boolean }[],
  firstTick: number,
  until: number,
) {
  const events: { at: number; kind: "push" | "tick"; success: boolean }[] = pushes.map((p) => ({
    at: p.at,
    kind: "push",
    success: p.success,
  }));
  for (let t = firstTick; t <= until; t += intervalMs)
    events.push({ at: t, kind: "tick", success: false });
  events.sort((a, b) => a.at - b.at || (a.kind === "push" ? -1 : 1));
  let failures = 0;
  let successes = 0;
  let triggered = false;
  const results: number[] = [];
  const out = { triggered: [] as number[], resolved: [] as number[], failedTicks: [] as number[] };
  for (const ev of events) {
    let success: boolean;
    if (ev.kind === "tick") {
      if (results.some((t) => t > ev.at - intervalMs)) continue; // :48-55
      out.failedTicks.push(ev.at);
      success = false;
    } else success = ev.success;
    results.push(ev.at);
    if (success) {
      successes++;
      if (triggered && successes >= alert.successThreshold) {
        triggered = false;
        out.resolved.push(ev.at);
      }
      failures = 0; // :117
    } else {
      successes = 0;
      failures++;
      if (!triggered && failures >= alert.failureThreshold) {
        triggered = true;
        out.triggered.push(ev.at);
      }
    }
  }
  return out;
}

function renderedHeartbeats(heartbeats: GatusInput["heartbeats"]) {
  const doc = parse(
    renderGatusConfig({
      server: "home",
      local: [],
      peers: {},
      heartbeats,
      ntfy: { url: "https://ntfy.cloud.example.com", topic: "homelab-home" },
      fallback: { kind: "ntfy", url: "https://ntfy.sh", topic: "fallback-topic" },
      ntfyServer: "cloud",
      private: true,
    }),
  );
  return (doc["external-endpoints"] as Record<string, any>[]).map((ee) => ({
    name: ee.name as string,
    interval: goDurationMs(ee.heartbeat.interval),
    alerts: (ee.alerts as Record<string, any>[]).map((a) => mergedAlert(doc, a)),
  }));
}

describe("heartbeats alert on the first missed or failed run, and never for a late one", () => {
  const schedules = [
    { name: "backup-x", schedule: "15 2 * * *" },
    { name: "check-x", schedule: "30 4 * * 0" },
    { name: "hourly-x", schedule: "0 * * * *" },
  ];
  const beats = renderedHeartbeats(schedules);
  const phases = [0, 0.1, 0.37, 0.5, 0.83, 0.99];

  it.each(schedules.map((s, i) => [s.name, s.schedule, i] as const))(
    "%s (%s)",
    (_name, schedule, i) => {
      const hb = beats[i]!;
      const gap = cronMaxGapMinutes(schedule) * 60_000;
      const slack = Math.max(HOUR, gap / 10); // a run that takes this much longer than the last
      const dst = HOUR; // crond runs in local time: one gap a year is an hour longer
      for (const alert of hb.alerts) {
        for (const phase of phases) {
          const first = phase * hb.interval;
          // Late but not missed: gap + slack + DST between two pushes: no failure at all.
          const late = simulate(
            hb.interval,
            alert,
            [
              { at: 0, success: true },
              { at: gap + slack + dst, success: true },
              { at: 2 * gap + slack + dst, success: true },
            ],
            first,
            2 * gap + slack + dst,
          );
          expect(late.failedTicks).toEqual([]);
          // Missed: the last push at 0, none after. Alert at the first failed tick, at most two
          // intervals after the last push (one interval after the push that did not come).
          const missed = simulate(
            hb.interval,
            alert,
            [{ at: 0, success: true }],
            first,
            10 * hb.interval,
          );
          expect(missed.triggered.length).toBe(1);
          expect(missed.triggered[0]).toBe(missed.failedTicks[0]);
          expect(missed.triggered[0]!).toBeLessThanOrEqual(2 * hb.interval);
          // A run that fails: alert when it reports; the next good run resolves it.
          const failed = simulate(
            hb.interval,
            alert,
            [
              { at: 0, success: true },
              { at: gap, success: false },
              { at: 2 * gap, success: true },
            ],
            first,
            2 * gap,
          );
          expect(failed.triggered).toEqual([gap]);
          expect(failed.resolved).toEqual([2 * gap]);
        }
      }
    },
  );

  it("their alerts trigger on the first failure and resolve on the first success, after Gatus merges the default alert", () => {
    for (const hb of beats)
      expect(hb.alerts).toEqual(
        hb.alerts.map(() => ({ failureThreshold: 1, successThreshold: 1 })),
      );
    // Each missed interval is one failure (watchdog/external_endpoint.go:57-75): with the
    // default threshold of 3 a daily job that stops would page after three more intervals.
    const daily = beats[0]!;
    const missed = simulate(
      daily.interval,
      daily.alerts[0]!,
      [{ at: 0, success: true }],
      0,
      10 * daily.interval,
    );
    expect(missed.triggered).toEqual([missed.failedTicks[0]]);
  });

  it("intervals: largest gap + max(1h, 10% of it) + 1h, rounded up to the hour", () => {
    expect(schedules.map((s) => heartbeatInterval(s.schedule))).toEqual([
      "28h", // 24h + 2.4h + 1h = 27.4h
      "186h", // 168h + 16.8h + 1h = 185.8h
      "3h", // 1h + 1h + 1h
    ]);
    // So a daily job that stops is reported within 2 × 28h, a weekly one within 2 × 186h.
  });
});

// ---------------------------------------------------------------------------------------------
// The config file through Gatus' own expansion (config/config.go:281-290), then YAML.
// ---------------------------------------------------------------------------------------------

/**
 * os.Expand (golang/go src/os/env.go, Expand and getShellName, go1.24 which Gatus v5.25.2
 * builds with, go.mod:5): `${name}` or `$name` (letters, digits, `_`), or `$` and one special
 * character; `${}`-style bad syntax is eaten; a `$` followed by nothing that names anything is
 * kept.
 */
function goExpand(s: string, mapping: (name: string) => string): string {
  let buf = "";
  let i = 0;
  const special = (c: string | undefined) => c !== undefined && "*#$@!?-0123456789".includes(c);
  const alnum = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_]/.test(c);
  for (let j = 0; j < s.length; j++) {
    if (s[j] === "$" && j + 1 < s.length) {
      buf += s.slice(i, j);
      const rest = s.slice(j + 1);
      let name = "";
      let w = 0;
      if (rest[0] === "{") {
        if (rest.length > 2 && special(rest[1]) && rest[2] === "}") [name, w] = [rest[1]!, 3];
        else {
          const close = rest.indexOf("}", 1);
          if (close === 1) [name, w] = ["", 2];
          else if (close > 1) [name, w] = [rest.slice(1, close), close + 1];
          else [name, w] = ["", 1];
        }
      } else if (special(rest[0])) [name, w] = [rest[0]!, 1];
      else {
        while (w < rest.length && alnum(rest[w])) w++;
        name = rest.slice(0, w);
      }
      if (name === "" && w > 0) {
        // bad syntax: eaten
      } else if (name === "") buf += "$";
      else buf += mapping(name);
      j += w;
      i = j + 1;
    }
  }
  return buf + s.slice(i);
}

/** parseAndValidateConfigBytes up to yaml.Unmarshal (config/config.go:281-290). */
function gatusExpand(text: string, env: Record<string, string>): string {
  const SENTINEL = "__GATUS_LITERAL_DOLLAR_SIGN__";
  const protectedText = text.replaceAll("$$", SENTINEL); // :284
  const expanded = goExpand(protectedText, (n) => env[n] ?? ""); // :286, os.ExpandEnv
  return expanded.replaceAll(SENTINEL, "$"); // :288
}

describe("the rendered file reads back literally after Gatus expands it", () => {
  const nasty = {
    user: "${SMTP_PASSWORD}",
    host: "smtp.$HEARTBEAT_TOKEN.example.org",
    to: "me$$you@example.org",
    topic: "t${NTFY_TOKEN}",
    path: "/health?token=${HEARTBEAT_TOKEN}&x=$",
  };
  const password =
    "p #1: \"q\" 's' \\ $HOME ${NTFY_TOKEN} __GATUS_LITERAL_DOLLAR_SIGN__ ü 😀 {a: [b]}\n- x";
  const env = {
    [GATUS_ENV.smtpPassword]: gatusEnvScalar(password),
    [GATUS_ENV.heartbeatToken]: "hb-token",
    [GATUS_ENV.ntfyToken]: "tk_ntfytoken",
    [GATUS_ENV.passwordHash]: "JDJhJDEwJGFiYw==",
  };
  const svc: ResolvedService = {
    name: "app",
    image: "x/app:1",
    env: {},
    volumes: [],
    http: {
      port: 80,
      subdomain: "app",
      healthPath: nasty.path,
      expectStatus: 200,
      admin: false,
      groups: [],
    },
    ports: [],
    updates: "pinned",
    dependsOn: [],
    description: "app",
  };
  const input: GatusInput = {
    server: "home",
    local: serviceEndpoints(svc, "home.example.com"),
    peers: {},
    heartbeats: [{ name: "backup-app", schedule: "15 2 * * *" }],
    ntfy: { url: "https://ntfy.cloud.example.com", topic: nasty.topic },
    fallback: { kind: "email", to: nasty.to, host: nasty.host, port: 587, user: nasty.user },
    ntfyServer: "cloud",
    private: true,
  };

  it("config values stay literal, the file's references are filled in, the password reads back as itself", () => {
    const doc = parse(gatusExpand(renderGatusConfig(input), env));
    expect(doc.alerting.email).toMatchObject({
      from: nasty.user,
      username: nasty.user,
      host: nasty.host,
      to: nasty.to,
      password,
    });
    expect(doc.alerting.ntfy.topic).toBe(nasty.topic);
    expect(doc.alerting.ntfy.token).toBe("tk_ntfytoken");
    expect(doc.endpoints[0].url).toBe(`https://app.home.example.com${nasty.path}`);
    expect(doc["external-endpoints"][0].token).toBe("hb-token");
    expect(doc.security.basic["password-bcrypt-base64"]).toBe("JDJhJDEwJGFiYw==");
  });

  it("a value holding Gatus' own stand-in for $ is refused, naming where it is", () => {
    expect(() =>
      renderGatusConfig({
        ...input,
        fallback: {
          ...input.fallback!,
          user: "a__GATUS_LITERAL_DOLLAR_SIGN__b",
        } as GatusInput["fallback"],
      }),
    ).toThrow(
      'Gatus config alerting.email.from: "a__GATUS_LITERAL_DOLLAR_SIGN__b" contains __GATUS_LITERAL_DOLLAR_SIGN__',
    );
  });

  it("the cloud stack with an SMTP user naming ${SMTP_PASSWORD}: Gatus reads the user as written", async () => {
    const e = await evaluateReference("cloud", {
      overrides: { smtpUser: "${SMTP_PASSWORD}", smtpHost: "smtp.$HEARTBEAT_TOKEN.example.org" },
    });
    const gatus = container(e, "gatus");
    const values = envs(gatus).values;
    const doc = parse(gatusExpand(uploadText(gatus, "/config/config.yaml")!, values));
    expect(doc.alerting.email.username).toBe("${SMTP_PASSWORD}");
    expect(doc.alerting.email.host).toBe("smtp.$HEARTBEAT_TOKEN.example.org");
    expect(doc.alerting.email.password).toBe("placeholder-smtpPassword");
  });
});
