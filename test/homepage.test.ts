/**
 * The fleet's homepage (gethomepage/homepage v1.12.3, issue 14): the files it gets are read back
 * by homepage's own code (vendored under test/upstream/homepage-v1.12.3, run here on our files
 * with only the disk and the cache stubbed), every service of every server is on the page, a new
 * service appears, a first deploy lists what it can, and hostile text stays text.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load } from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { asPeerOutputs, evaluateStack } from "../cli/evaluate";
import { homepageOf, serverPlans } from "../cli/report-model";
import { planText } from "../cli/report-text";
import { homepageMarkdown, writeReports } from "../cli/report-markdown";
import { IMAGES } from "../components/defaults";
import {
  CatalogueGroup,
  catalogueEntryProblem,
  homepageFiles,
  iconOf,
  renderServices,
} from "../configs/homepage";
import { checkFleet, formatFinding } from "../lib/guardrails";
import { loadStackConfig } from "../lib/program";
import home from "../stacks/home";
import {
  broken,
  dockerContainer,
  referenceIntent,
  referenceRaw,
  setLabel,
} from "./fixtures/broken";
import {
  ROOT,
  STACK_NAMES,
  container,
  envs,
  evaluateReference,
  labels,
  referenceConfig,
  referenceFleet,
  reveal,
  uploadOf,
} from "./helpers";

const UPSTREAM = join(ROOT, "test/upstream/homepage-v1.12.3");
const CONF_DIR = "/app/config";

/** `function <name>(…) { … }` from a vendored upstream file, `export` dropped. */
function upstreamFunction(file: string, name: string): string {
  const text = readFileSync(join(UPSTREAM, file), "utf8");
  const start = text.search(new RegExp(`(async )?function ${name}\\(`));
  if (start < 0) throw new Error(`no function ${name} in ${file}`);
  const end = text.indexOf("\n}\n", start);
  return text.slice(start, end + 2);
}

/** A top-level `const X = …;` line of a vendored file. */
function upstreamConst(file: string, name: string): string {
  const m = new RegExp(`^const ${name} = .*;$`, "m").exec(
    readFileSync(join(UPSTREAM, file), "utf8"),
  );
  if (!m) throw new Error(`no const ${name} in ${file}`);
  return m[0];
}

interface Upstream {
  servicesFromConfig(): Promise<{ name: string; services: Record<string, unknown>[] }[]>;
  widgetsFromConfig(): Promise<{ type: string; options: Record<string, unknown> }[]>;
  getSettings(): Record<string, unknown>;
  checkAndCopyConfig(file: string): unknown;
}

/**
 * homepage's own readers over `files` (the contents of /app/config) and `env` (the container's
 * environment): config.js checkAndCopyConfig, getCachedEnvironmentVars, substituteEnvironmentVars
 * and getSettings; service-helpers.js parseServicesToGroups and servicesFromConfig;
 * widget-helpers.js widgetsFromConfig. Stubbed: the file system (a skeleton copy is recorded, not
 * made), the memory cache (off) and the logger (warnings recorded). js-yaml is homepage's parser.
 */
function upstream(files: Record<string, string>, env: Record<string, string> = {}) {
  const copied: string[] = [];
  const warnings: string[] = [];
  const path = (p: string) => p.replace(`${CONF_DIR}/`, "");
  const read = (p: string) => {
    if (p.startsWith(`${CONF_DIR}/`) && path(p) in files) return files[path(p)]!;
    if (p.startsWith("/")) return `<contents of ${p}>`;
    throw new Error(`read ${p}`);
  };
  const stubs = {
    yaml: { load },
    cache: { get: () => undefined, put: () => undefined },
    process: { env },
    existsSync: (p: string) => p === CONF_DIR || path(p) in files,
    mkdirSync: () => undefined,
    copyFileSync: (_from: string, to: string) => copied.push(path(to)),
    readFileSync: read,
    join: (...parts: string[]) => parts.join("/"),
    path: { join: (...parts: string[]) => parts.join("/") },
    fs: { readFile: async (p: string) => read(p) },
    CONF_DIR,
    logger: { warn: (m: string) => warnings.push(m) },
    console: { info: () => undefined, error: (m: string) => warnings.push(m), warn: () => {} },
  };
  const source = [
    upstreamConst("config.js", "cacheKey"),
    upstreamConst("config.js", "homepageVarPrefix"),
    upstreamConst("config.js", "homepageFilePrefix"),
    upstreamFunction("config.js", "checkAndCopyConfig"),
    upstreamFunction("config.js", "getCachedEnvironmentVars"),
    upstreamFunction("config.js", "substituteEnvironmentVars"),
    upstreamFunction("config.js", "getSettings"),
    upstreamFunction("service-helpers.js", "parseServicesToGroups"),
    upstreamFunction("service-helpers.js", "servicesFromConfig"),
    upstreamFunction("widget-helpers.js", "widgetsFromConfig"),
    "return { checkAndCopyConfig, servicesFromConfig, widgetsFromConfig, getSettings };",
  ].join("\n");
  const api = new Function(...Object.keys(stubs), source)(...Object.values(stubs)) as Upstream;
  return { api, copied, warnings };
}

/** The files the homepage container gets, by name (as uploaded into /app/config). */
function uploadedFiles(c: ReturnType<typeof container>): Record<string, string> {
  const list = reveal(c.inputs.uploads) as { file: string; content: string }[];
  return Object.fromEntries(
    list.map((u) => {
      expect(u.file.startsWith(`${CONF_DIR}/`), u.file).toBe(true);
      return [u.file.slice(CONF_DIR.length + 1), u.content];
    }),
  );
}

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("the homepage of the reference fleet (on cloud)", () => {
  it("is one container on cloud only, the pinned release, with the env v1.12.3 requires", async () => {
    const { evaluations } = await referenceFleet();
    const c = container(evaluations.cloud!, "homepage");
    expect(IMAGES.homepage).toBe("ghcr.io/gethomepage/homepage:v1.12.3");
    expect(labels(c)["homelab.role"]).toBe("homepage");
    for (const s of ["home", "offsite"])
      expect(() => container(evaluations[s]!, "homepage"), s).toThrow(/no container homepage/);
    const env = envs(c);
    expect(env.secret).toBe(false);
    // src/middleware.js:5-17 (vendored): /api/* answers 400 unless the Host header is
    // localhost:PORT, 127.0.0.1:PORT, [::1]:PORT or one of HOMEPAGE_ALLOWED_HOSTS split on ",".
    // Required since v1.0.0 (PR #4744, "[BREAKING] Enhancement: require host validation");
    // docs/installation/index.md:30-38. Traefik passes the browser's Host (no port on 443).
    expect(env.values.HOMEPAGE_ALLOWED_HOSTS).toBe("homepage.cloud.example.com");
    // homepage's own middleware, run with the container's env and the Host headers Traefik
    // forwards (NextResponse stubbed: next() passes, json(…, { status }) answers).
    const middleware = new Function(
      "NextResponse",
      "process",
      "console",
      `${upstreamFunction("middleware.js", "middleware")}\nreturn middleware;`,
    )(
      {
        next: () => ({ status: 200 }),
        json: (_body: unknown, init: { status: number }) => ({ status: init.status }),
      },
      { env: env.values },
      { error: () => undefined },
    ) as (req: { headers: { get(h: string): string | null } }) => { status: number };
    const status = (host: string) => middleware({ headers: { get: () => host } }).status;
    expect(status("homepage.cloud.example.com")).toBe(200);
    expect(status("localhost:3000")).toBe(200);
    expect(status("evil.example.com")).toBe(400);
    expect(status("homepage.cloud.example.com:443")).toBe(400);
    // No HOMEPAGE_VAR_/HOMEPAGE_FILE_ variable: nothing for {{…}} in a file to pull in.
    expect(
      Object.keys(env.values).filter(
        (k) => k.includes("HOMEPAGE_VAR_") || k.includes("HOMEPAGE_FILE_"),
      ),
    ).toEqual([]);
    expect(env.values).toMatchObject({ PUID: "1000", PGID: "1000", LOG_TARGETS: "stdout" });
  });

  it("gets every config file homepage reads, as files in /app/config, so it copies no sample", async () => {
    const { evaluations } = await referenceFleet();
    const c = container(evaluations.cloud!, "homepage");
    const files = uploadedFiles(c);
    for (const f of Object.keys(files)) {
      const u = uploadOf(c, `${CONF_DIR}/${f}`);
      expect(u.secret, f).toBe(false);
      expect(u.content.length, f).toBeGreaterThan(0); // the provider refuses an empty upload
    }
    const { api, copied } = upstream(files);
    // The files homepage checks (and would copy from src/skeleton/ when missing): the lists of
    // src/pages/api/validate.js:3 and src/pages/api/hash.js:7-15 at v1.12.3.
    const checked = [
      "docker.yaml",
      "settings.yaml",
      "services.yaml",
      "bookmarks.yaml",
      "kubernetes.yaml",
      "proxmox.yaml",
      "widgets.yaml",
      "custom.css",
      "custom.js",
    ];
    for (const f of checked) expect(api.checkAndCopyConfig(f), f).toBe(true);
    expect(copied).toEqual([]);
    expect(Object.keys(files).sort()).toEqual([...checked].sort());
    // bookmarks.yaml empty: api-response.js bookmarksResponse maps a list; none on the page.
    expect(load(files["bookmarks.yaml"]!)).toEqual([]);
  });

  it("lists every service of every server, grouped by server, as homepage's own parser reads it", async () => {
    const { evaluations } = await referenceFleet();
    const files = uploadedFiles(container(evaluations.cloud!, "homepage"));
    const { api, warnings } = upstream(files);
    const groups = await api.servicesFromConfig();
    expect(warnings).toEqual([]);
    expect(groups.map((g) => g.name)).toEqual(["cloud", "home", "offsite"]);
    // What the fleet's Gatus instances watch (a Gatus does not watch itself; its peers do).
    const watched = new Set(
      STACK_NAMES.flatMap((s) => {
        const g = uploadOf(container(evaluations[s]!, "gatus"), "/config/config.yaml").content;
        return (load(g) as { endpoints: { url: string }[] }).endpoints.map((x) => x.url);
      }),
    );
    for (const stack of STACK_NAMES) {
      const { config, services } = loadStackConfig(stack, referenceRaw(stack));
      const group = groups.find((g) => g.name === stack)!;
      const byName = Object.fromEntries(group.services.map((s) => [s.name, s]));
      const components = [
        "traefik",
        "gatus",
        "syncthing",
        ...(stack === "cloud" ? ["ntfy", "sso"] : []),
      ];
      expect(Object.keys(byName).sort(), stack).toEqual(
        [...services.map((s) => s.name), ...components].sort(),
      );
      for (const s of services) {
        const item = byName[s.name]!;
        // parseServicesToGroups (service-helpers.js:16-51) keeps every field and adds these.
        expect(item, s.name).toMatchObject({ name: s.name, type: "service" });
        expect(item.description).toBe(s.description);
        expect(item.icon).toBe(iconOf(s.image));
        if (s.http) {
          expect(item.href).toBe(`https://${s.http.subdomain}.${config.domain}`);
          expect(item.siteMonitor).toBe(
            `https://${s.http.subdomain}.${config.domain}${s.http.healthPath}`,
          );
        } else {
          expect(item.href, s.name).toBeUndefined();
          expect(item.siteMonitor, s.name).toBeUndefined();
        }
      }
      for (const name of components) {
        expect(byName[name]!.href, `${stack} ${name}`).toMatch(
          new RegExp(`^https://[a-z]+\\.${config.domain.replace(/\./g, "\\.")}`),
        );
      }
      // The page checks the same URLs the fleet's Gatus watch.
      for (const item of group.services)
        if (item.siteMonitor) expect(watched, `${stack} ${item.name}`).toContain(item.siteMonitor);
    }
  });

  it("uses siteMonitor per service, which counts Traefik's 401 on an admin route as up", () => {
    // site-monitor.jsx:22 and siteMonitor.js:35 at v1.12.3: only a status > 403 is down, so the
    // admin routes (401 without a login, like Gatus expects: serviceEndpoints) show up. The
    // Gatus widget instead sums one Gatus instance (src/widgets/gatus/component.jsx: up, down,
    // uptime over all of /api/v1/endpoints/statuses) and needs its API, which is private here:
    // it cannot give a per-service status. So: siteMonitor, on the URL Gatus watches.
    const text = renderServices([
      {
        server: "x",
        entries: [
          {
            name: "app",
            server: "x",
            description: "d",
            url: "https://app.x.example.com",
            icon: "app.png",
            monitor: "https://app.x.example.com/health",
            kind: "service",
          },
        ],
      },
    ]);
    expect(load(text)).toEqual([
      {
        x: [
          {
            app: {
              href: "https://app.x.example.com",
              description: "d",
              icon: "app.png",
              siteMonitor: "https://app.x.example.com/health",
            },
          },
        ],
      },
    ]);
  });

  it("settings and widgets read back through getSettings and widgetsFromConfig", async () => {
    const { evaluations } = await referenceFleet();
    const files = uploadedFiles(container(evaluations.cloud!, "homepage"));
    const { api } = upstream(files);
    const settings = api.getSettings();
    // docs/configs/settings.md: title (l.8-14), layout as a list orders groups (l.211-228,
    // getSettings turns it into an object, config.js:88-100), statusStyle (l.575-587),
    // disableUpdateCheck (l.533-545), disableIndexing (l.629-640).
    expect(settings).toMatchObject({
      title: "homelab",
      statusStyle: "basic",
      disableUpdateCheck: true,
      disableIndexing: true,
    });
    expect(Object.keys(settings.layout as object)).toEqual(["cloud", "home", "offsite"]);
    const widgets = await api.widgetsFromConfig();
    // widget-helpers.js:17-24: one { type, options } per list item; greeting reads options.text.
    expect(widgets).toEqual([
      {
        type: "greeting",
        options: { index: 0, text_size: "xl", text: "homelab: 3 servers, 17 entries" },
      },
    ]);
  });

  it("icons are dashboard-icons names that exist", () => {
    // homarr-labs/dashboard-icons tree.json (commit 000b9582c9eb832abc89a5e060082a8dd94eb563),
    // "png" list: each of these is there. ResolvedIcon falls back to
    // cdn.jsdelivr.net/gh/homarr-labs/dashboard-icons/png/<name> (src/components/resolvedicon.jsx).
    const published = [
      "gatus.png",
      "home-assistant.png",
      "immich.png",
      "ntfy.png",
      "postgres.png",
      "stalwart.png",
      "syncthing.png",
      "traefik.png",
      "valkey.png",
      "vaultwarden.png",
    ];
    const images = STACK_NAMES.flatMap((s) =>
      loadStackConfig(s, referenceRaw(s)).services.map((x) => x.image),
    );
    const used = [...images, IMAGES.traefik, IMAGES.gatus, IMAGES.syncthing, IMAGES.ntfy].map(
      iconOf,
    );
    expect([...new Set(used)].sort()).toEqual(published);
    expect(iconOf("vaultwarden/server:1.34.3")).toBe("vaultwarden.png");
    expect(iconOf("ghcr.io/immich-app/immich-server:v1.135.3")).toBe("immich.png");
    expect(iconOf("localhost:5000/team/app:1")).toBe("team.png");
  });

  it("is an admin route: HTTPS through Traefik with basic auth, watched here and by the peers", async () => {
    const { evaluations } = await referenceFleet();
    const l = labels(container(evaluations.cloud!, "homepage"));
    expect(l["traefik.http.routers.homepage.rule"]).toBe("Host(`homepage.cloud.example.com`)");
    expect(l["traefik.http.routers.homepage.middlewares"]).toBe(
      "secure-headers@file,admin-auth@file",
    );
    expect(l["traefik.http.services.homepage.loadbalancer.server.port"]).toBe("3000");
    for (const s of STACK_NAMES) {
      const gatus = uploadOf(container(evaluations[s]!, "gatus"), "/config/config.yaml").content;
      expect(gatus, s).toContain("https://homepage.cloud.example.com/");
    }
    const creds = reveal(evaluations.cloud!.outputs.credentials) as Record<string, string>;
    expect(creds.homepage).toBe(creds.traefik);
    expect((reveal(evaluations.cloud!.outputs.summary) as { homepage: string }).homepage).toBe(
      "https://homepage.cloud.example.com",
    );
  });

  it("the guardrails hold on it, and find a homepage route without its login", async () => {
    const { evaluations } = await referenceFleet();
    const intent = referenceIntent();
    expect(intent.cloud!.adminServices).toContain("homepage");
    expect(checkFleet(evaluations, intent).map(formatFinding)).toEqual([]);
    const open = broken(evaluations, (f) =>
      setLabel(
        dockerContainer(f.cloud!, "homepage"),
        "traefik.http.routers.homepage.middlewares",
        "secure-headers@file",
      ),
    );
    expect(checkFleet(open, intent).map(formatFinding)).toEqual([
      '[admin-auth] cloud: Container cloud-homepage-container ("homepage"): "homepage" is an admin UI (http.admin) but router "homepage" has no admin-auth@file: add it to the router\'s middlewares',
    ]);
  });
});

describe("the catalogue each server publishes", () => {
  it("a service added to home appears on the page at cloud's next evaluation", async () => {
    const { evaluations } = await referenceFleet();
    const peers = Object.fromEntries(STACK_NAMES.map((s) => [s, asPeerOutputs(evaluations[s]!)]));
    const before = uploadedFiles(container(evaluations.cloud!, "homepage"))["services.yaml"]!;
    expect(before).not.toContain("paperless");
    const declare = (ctx: { domain: string }) => {
      const d = home(ctx);
      return {
        ...d,
        services: [
          ...d.services,
          {
            name: "paperless",
            description: "Paperless-ngx documents",
            image: "ghcr.io/paperless-ngx/paperless-ngx:2.18.4",
            http: { port: 8000, subdomain: "docs" },
          },
        ],
      };
    };
    const newHome = await evaluateStack("home", referenceConfig("home"), { peers, declare });
    const published = newHome.outputs.catalogue as { name: string }[];
    expect(published.map((e) => e.name)).toContain("paperless");
    const cloud = await evaluateReference("cloud", {
      peers: { ...peers, home: asPeerOutputs(newHome) },
    });
    const { api } = upstream(uploadedFiles(container(cloud, "homepage")));
    const homeGroup = (await api.servicesFromConfig()).find((g) => g.name === "home")!;
    expect(homeGroup.services.find((s) => s.name === "paperless")).toMatchObject({
      href: "https://docs.home.example.com",
      description: "Paperless-ngx documents",
      icon: "paperless-ngx.png",
      siteMonitor: "https://docs.home.example.com/",
    });
  });

  it("first deploy: no peer outputs, the page lists cloud only and says why", async () => {
    const cloud = await evaluateReference("cloud");
    const { api } = upstream(uploadedFiles(container(cloud, "homepage")));
    expect((await api.servicesFromConfig()).map((g) => g.name)).toEqual(["cloud"]);
    for (const peer of ["home", "offsite"])
      expect(cloud.warnings).toContain(
        `the homepage on cloud does not list "${peer}" yet: it publishes no catalogue. Deploy it (\`pulumi up --stack ${peer}\`), then \`pulumi up --stack cloud\`.`,
      );
  });

  it("a peer deployed by a version without the catalogue is left out with a warning", async () => {
    const { evaluations } = await referenceFleet();
    const peers = Object.fromEntries(STACK_NAMES.map((s) => [s, asPeerOutputs(evaluations[s]!)]));
    const { catalogue: _, ...older } = peers.home!.outputs;
    const cloud = await evaluateReference("cloud", {
      peers: { ...peers, home: { ...peers.home!, outputs: older } },
    });
    const { api } = upstream(uploadedFiles(container(cloud, "homepage")));
    expect((await api.servicesFromConfig()).map((g) => g.name)).toEqual(["cloud", "offsite"]);
    expect(cloud.warnings).toContain(
      'peer "home" has no output "catalogue" (deployed by an older version?); run `pulumi up --stack home`.',
    );
  });

  it("only the homepage's server reads the peers' catalogues; home and offsite warn of nothing", async () => {
    const { evaluations } = await referenceFleet();
    for (const s of STACK_NAMES) expect(evaluations[s]!.warnings, s).toEqual([]);
    const lonely = await evaluateReference("offsite");
    expect(lonely.warnings.filter((w) => w.includes("catalogue"))).toEqual([]);
  });

  it("a peer's malformed entry is dropped with a warning, never rendered", async () => {
    const { evaluations } = await referenceFleet();
    const peers = Object.fromEntries(STACK_NAMES.map((s) => [s, asPeerOutputs(evaluations[s]!)]));
    const bad = [
      ...(peers.home!.outputs.catalogue as object[]),
      { name: "x: {y}", server: "home", description: "d", icon: "i.png", kind: "service" },
    ];
    const cloud = await evaluateReference("cloud", {
      peers: {
        ...peers,
        home: { ...peers.home!, outputs: { ...peers.home!.outputs, catalogue: bad } },
      },
    });
    expect(cloud.warnings).toContain(
      `the homepage on cloud leaves out entry ${bad.length - 1} of "home": name "x: {y}" is not [a-z0-9-].`,
    );
    expect(uploadedFiles(container(cloud, "homepage"))["services.yaml"]).not.toContain("x: ");
    expect(catalogueEntryProblem({ ...(bad[0] as object), url: "http://plain" })).toBe(
      "url is not an https URL",
    );
  });

  it("homepageServer must be this stack or a peer, like ntfyServer", () => {
    expect(() =>
      loadStackConfig(
        "home",
        referenceRaw("home", { homepageServer: "clod" }, { validate: false }),
      ),
    ).toThrow(
      'Invalid configuration for stack "home" (Pulumi.home.yaml), 1 problem:\n  homepageServer: "clod" must be this stack or one of peers (["cloud","offsite"])',
    );
    const none = loadStackConfig("cloud", referenceRaw("cloud", { homepageServer: "" })).config;
    expect(none.homepageServer).toBe("");
  });
});

describe("hostile text", () => {
  const hostile =
    "a: b # c - [d] {e} 'f' \"g\" & *h !i |j >k %l @m `n\nsecond line {{HOMEPAGE_VAR_SECRET}} {{HOMEPAGE_FILE_KEY}}";
  const groups: CatalogueGroup[] = [
    {
      server: "home",
      entries: [
        { name: "app", server: "home", description: hostile, icon: "app.png", kind: "service" },
      ],
    },
  ];

  it("a description with YAML specials and {{…}} reads back as written, nothing substituted", async () => {
    // config.js:62-78: before js-yaml parses a file, every `{{HOMEPAGE_VAR_X}}` in its text is
    // replaced by that variable's value and every `{{HOMEPAGE_FILE_X}}` by the contents of the
    // file the variable names. The container has none of them; this test gives it both.
    const files = homepageFiles(groups);
    expect(files["services.yaml"]).not.toContain("{{");
    const { api } = upstream(files, {
      HOMEPAGE_VAR_SECRET: "leaked-variable",
      HOMEPAGE_FILE_KEY: "/run/secrets/key",
    });
    const [group] = await api.servicesFromConfig();
    expect(group!.services[0]!.description).toBe(hostile);
    expect(JSON.stringify(group)).not.toContain("leaked");
    expect(JSON.stringify(group)).not.toContain("<contents of");
  });

  it("without the escape, the same description would pull the variable and the file in", async () => {
    // The property the renderer defends, shown on plain YAML of the same value.
    const { stringify } = await import("yaml");
    const plain = stringify([{ home: [{ app: { description: hostile } }] }]);
    const { api } = upstream(
      { "services.yaml": plain },
      { HOMEPAGE_VAR_SECRET: "leaked-variable", HOMEPAGE_FILE_KEY: "/run/secrets/key" },
    );
    const [group] = await api.servicesFromConfig();
    expect(group!.services[0]!.description).toContain("leaked-variable");
    expect(group!.services[0]!.description).toContain("<contents of /run/secrets/key>");
  });
});

describe("npm run plan shows the page before deploying", () => {
  it("the text names the homepage and its server; homepage.md has a table per server", async () => {
    const fleet = await referenceFleet();
    const plans = serverPlans(fleet);
    const cloud = plans.find((p) => p.stack === "cloud")!;
    expect(cloud.homepage?.url).toBe("https://homepage.cloud.example.com");
    expect(plans.filter((p) => p.homepage).map((p) => p.stack)).toEqual(["cloud"]);
    const text = planText(plans, fleet.rounds);
    expect(text).toContain("Homepage of the fleet: https://homepage.cloud.example.com (on cloud)");
    expect(text).toContain("lists 17 entries of cloud (6), home (8), offsite (3)");
    const md = homepageMarkdown("cloud", homepageOf(fleet.evaluations.cloud!)!);
    for (const s of STACK_NAMES) expect(md).toContain(`## ${s} (`);
    expect(md).toContain(
      "| **vaultwarden** | Vaultwarden password manager | https://vault.home.example.com | `vaultwarden.png` | `https://vault.home.example.com/alive` |",
    );
    const dir = mkdtempSync(join(tmpdir(), "homelab-homepage-"));
    temps.push(dir);
    const plan = {
      fleet: { ...fleet, log: [], missing: [] },
      plans,
      all: plans,
      assumedSecrets: {},
      findings: [],
    };
    const written = await writeReports(plan, dir);
    expect(written.files).toContain("homepage.md");
    expect(readFileSync(join(dir, "homepage.md"), "utf8")).toBe(md);
    // Planning only home: no homepage.md (the page is cloud's).
    const only = mkdtempSync(join(tmpdir(), "homelab-homepage-"));
    temps.push(only);
    await writeReports({ ...plan, plans: plans.filter((p) => p.stack === "home") }, only);
    expect(existsSync(join(only, "homepage.md"))).toBe(false);
  });
});
