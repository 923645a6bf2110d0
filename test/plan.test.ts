/**
 * `npm run plan`: the report, `--json` (every registered resource, secrets redacted), `--out`
 * (Markdown reports, Mermaid, an SVG by Graphviz) and the error path of bad config, run as the
 * user runs it (a child process) where exit codes and stderr matter.
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Evaluation, reveal } from "../cli/evaluate";
import { assumedSecret } from "../cli/fleet";
import { SECRET_KEYS } from "../lib/config";
import { renderDot, renderMermaid, renderSvg } from "../cli/diagram";
import { main } from "../cli/plan";
import { ROOT, STACK_NAMES, T, referenceFleet } from "./helpers";

/**
 * The plan CLI in-process. The reference stack files set no secret (their headers say which to
 * set), so unless `secrets` is false the plan assumes them set, as a new user runs it.
 */
async function plan(argv: string[], { secrets = true } = {}) {
  let out = "";
  let err = "";
  const args = secrets ? [...argv, "--assume-secrets"] : argv;
  const code = await main(args, { write: (s) => (out += s), fail: (s) => (err += s) }, ROOT);
  return { code, out, err };
}

/** The CLI as `npm run plan` starts it. */
function planProcess(args: string[]) {
  const r = spawnSync("npx", ["tsx", "cli/plan.ts", ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const temps: string[] = [];
/** A project root with Pulumi.yaml and the given stack files (edited by `edit`). */
function projectCopy(stacks: string[], edit: Record<string, (text: string) => string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "homelab-plan-"));
  temps.push(dir);
  copyFileSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  for (const s of stacks) {
    const text = readFileSync(join(ROOT, `Pulumi.${s}.yaml`), "utf8");
    writeFileSync(join(dir, `Pulumi.${s}.yaml`), (edit[s] ?? ((t) => t))(text));
  }
  return dir;
}
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * Plaintext of every generated or user secret of the fleet, read from the non-redacted
 * evaluations: restic passwords, ntfy publish tokens, UI logins, every 0400 file uploaded into
 * a container (tokens, passwords, dump credentials) and the placeholders of user secrets.
 */
function secretsOf(evaluations: Record<string, Evaluation>): string[] {
  const found = new Set<string>(SECRET_KEYS.map(assumedSecret));
  const strings = (v: unknown): string[] =>
    typeof v === "string"
      ? [v]
      : v && typeof v === "object"
        ? Object.values(v as object).flatMap(strings)
        : [];
  for (const e of Object.values(evaluations)) {
    for (const key of ["backupPasswords", "ntfyPublishTokens"])
      strings(reveal(e.outputs[key])).forEach((s) => found.add(s));
    strings(reveal(e.outputs.credentials)).forEach((s) => found.add(s.replace(/^admin \/ /, "")));
    for (const c of e.resources.filter((r) => r.type === T.container)) {
      const uploads = reveal(c.inputs.uploads) as
        { content: string; permissions?: string }[] | undefined;
      for (const u of uploads ?? []) if (u.permissions === "0400") found.add(u.content);
    }
  }
  // Multi-line files (ntfy's server.yml, a dump's env file): also each token in them.
  for (const s of [...found])
    for (const m of s.matchAll(/\$2a\$10\$[0-9a-f]+|tk_[0-9a-f]+|[0-9A-Fa-f]{24,}/g))
      found.add(m[0]);
  return [...found].filter((s) => s.length >= 8).sort();
}

/** Whether `text` (plain or JSON) holds `secret`. */
const holds = (text: string, secret: string) =>
  text.includes(secret) || text.includes(JSON.stringify(secret).slice(1, -1));

describe("npm run plan", () => {
  let text: { code: number; out: string; err: string };
  beforeAll(async () => {
    text = await plan([]);
  });

  it("prints the three servers, each with monitors across servers", () => {
    expect(text.code).toBe(0);
    expect(text.err).toBe("");
    for (const s of STACK_NAMES) expect(text.out).toContain(`━━ ${s} — `);
    expect(text.out).toContain(
      "━━ cloud — public services: mail, notifications, external monitoring\nDocker engine: ssh://deploy@cloud.example.com:2222\n",
    );
    expect(text.out).toContain(
      "home's Gatus watches: cloud (11 checks), home (5 checks), offsite (3 checks)",
    );
    expect(text.out).toContain(
      "cloud's Gatus watches: cloud (10 checks), home (6 checks), offsite (3 checks)",
    );
    expect(text.out).toContain(
      "offsite's Gatus watches: cloud (11 checks), home (6 checks), offsite (2 checks)",
    );
    expect(text.out).toContain("  watched by: cloud (6 checks), offsite (6 checks)");
    expect(text.out).toContain("https://photos.home.example.com                   →  immich");
    expect(text.out).toContain("  immich-db: dump immich.sql → /backups/home/immich-db");
    // Per repository, who holds what: cloud has home's keys, offsite only ciphertext.
    expect(text.out).toContain(
      "    → cloud (with the key: checked, drilled), offsite (ciphertext only: verified without the key); readable by home, cloud",
    );
    expect(text.out).toContain(
      "    → home (with the key: checked, drilled), offsite (ciphertext only: verified without the key); readable by cloud, home",
    );
    expect(text.out).toContain("  notify: home-assistant, immich-redis");
    expect(text.out).toMatch(/3 servers, 0 warnings\.\n$/);
  });

  it("shows how each backup captures its data, from the published backups and the job scripts", () => {
    const captures = Object.fromEntries(
      [...text.out.matchAll(/^ {2}(\S+): .* → \S+\n {4}capture: (.*)$/gm)].map((m) => [m[1], m[2]]),
    );
    expect(captures).toEqual({
      mail: "stop — mail stopped during the snapshot, at most 300 s (maxDowntime); downtime reported as heartbeat downtime-mail",
      "home-assistant": "sqlite (config/home-assistant_v2.db copied online, integrity-checked)",
      immich: "files",
      // pg_dump's trailer (configs/backup.ts dumpComplete cites postgres' pg_backup_archiver.c).
      "immich-db":
        'dump immich.sql (the drill checks it ends with "PostgreSQL database dump complete")',
      vaultwarden: "sqlite (data/db.sqlite3 copied online, integrity-checked)",
      // The components' own state (components/component-state.ts).
      authelia: "sqlite (data/db.sqlite3 copied online, integrity-checked)",
      ntfy: "sqlite (data/cache.db, data/user.db copied online, integrity-checked)",
    });
    // The downtime heartbeat the plan names is one cloud's Gatus expects.
    expect(text.out).toMatch(/heartbeats expected: [^\n]*downtime ×1/);
  });

  it("limits the report to the stacks named, still serving their references", async () => {
    const r = await plan(["offsite"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("━━ offsite — ");
    expect(r.out).not.toContain("━━ home");
    expect(r.out).toContain(
      "offsite's Gatus watches: cloud (11 checks), home (6 checks), offsite (2 checks)",
    );
    expect(r.out).toContain(
      "replicas held here: cloud/mail (ciphertext only), cloud/authelia (ciphertext only), cloud/ntfy (ciphertext only), home/home-assistant (ciphertext only), home/immich (ciphertext only), home/immich-db (ciphertext only), home/vaultwarden (ciphertext only)",
    );
  });

  it("reports a reference to a stack without config as a missing peer, planned as a first deployment", async () => {
    const root = projectCopy(["home", "cloud"]);
    const r = await plan(["--json", "--root", root]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { stacks: { stack: string; warnings: string[] }[] };
    expect(doc.stacks.map((s) => s.stack)).toEqual(["cloud", "home"]);
    const home = doc.stacks.find((s) => s.stack === "home")!;
    expect(home.warnings).toContain(
      'missing peer: home references stack "offsite", which has no Pulumi.offsite.yaml here; planned as on a first deployment (nothing of it is watched or replicated). Add the stack, or remove "offsite" from peers.',
    );
    expect(home.warnings).toContain(
      'peer "offsite" has no outputs: it is not deployed yet. Deploy it (`pulumi up --stack offsite`), then run `pulumi up --stack home` again; until then nothing of it is watched or replicated.',
    );
  });
});

describe("npm run plan: captures declared in a stack file", () => {
  it("shows a hook's commands and a group's stop, read from the job scripts", async () => {
    const root = projectCopy(["home", "cloud", "offsite"], {
      home: (t) =>
        t +
        [
          "    notes:",
          "      image: ghcr.io/hedgedoc/hedgedoc:1.10.3",
          "      volumes: [{ name: data, path: /data }]",
          "      backup:",
          "        capture: hook",
          "        hook: { pre: [/app/export, /data/export.json], post: [rm, -f, /data/export.json], timeout: 120 }",
          "    wiki:",
          "      image: ghcr.io/example/wiki:1.0.0",
          "      group: wiki",
          "      volumes: [{ name: data, path: /data }]",
          "      backup: { capture: stop, maxDowntime: 60 }",
          "    wiki-search:",
          "      image: ghcr.io/example/search:1.0.0",
          "      group: wiki",
          "",
        ].join("\n"),
    });
    const r = await plan(["home", "--root", root]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      "  notes: volume notes-data → /backups/home/notes\n    capture: hook — in notes: `/app/export /data/export.json` before the snapshot, `rm -f /data/export.json` after, each at most 120 s\n",
    );
    expect(r.out).toContain(
      "  wiki: volume wiki-data → /backups/home/wiki\n    capture: stop — wiki, wiki-search stopped during the snapshot, at most 60 s (maxDowntime); downtime reported as heartbeat downtime-wiki\n",
    );
    const json = await plan(["home", "--root", root, "--json"]);
    const home = (
      JSON.parse(json.out) as {
        stacks: { stack: string; backups: { service: string; capture: unknown }[] }[];
      }
    ).stacks.find((s) => s.stack === "home")!;
    expect(home.backups.find((b) => b.service === "wiki")!.capture).toEqual({
      kind: "stop",
      containers: ["wiki", "wiki-search"],
      maxDowntime: 60,
      downtimeHeartbeat: "downtime-wiki",
    });
    expect(home.backups.find((b) => b.service === "notes")!.capture).toEqual({
      kind: "hook",
      hook: {
        container: "notes",
        pre: ["/app/export", "/data/export.json"],
        post: ["rm", "-f", "/data/export.json"],
        timeout: 120,
      },
    });
  });
});

describe("npm run plan warnings", () => {
  it("a guardrail finding of a stack is a warning of its plan", async () => {
    const root = projectCopy(["home", "cloud", "offsite"], {
      home: (t) => `${t}  homelab:backupReplicateTo: []\n`,
    });
    const r = await plan(["home", "--root", root]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("  immich: volume immich-library → /backups/home/immich\n");
    expect(r.out).toContain("    not replicated; readable by home\n");
    const warnings = r.out.split("\n").filter((l) => l.startsWith("  ! "));
    const sidecars = [
      "home-home-assistant-backup-container",
      "home-immich-backup-container",
      "home-immich-db-backup-container",
      "home-vaultwarden-backup-container",
    ];
    expect(
      warnings.map((l) => /^ {2}! guardrail ([a-z-]+): Container (\S+)/.exec(l)?.slice(1, 3)),
    ).toEqual([
      ...sidecars.map((c) => ["replicated", c]),
      ...sidecars.map((c) => ["drilled-elsewhere", c]),
    ]);
    expect(r.out).toMatch(/1 server, 8 warnings\.\n$/);
  });
});

describe("npm run plan -- --strict", () => {
  const brokenRoot = () =>
    projectCopy(["home", "cloud", "offsite"], {
      home: (t) => `${t}  homelab:backupReplicateTo: []\n`,
    });

  it("the reference fleet has no finding: exit 0", async () => {
    const r = await plan(["--strict"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  });

  it("any guardrail finding of a planned stack: the plan, the findings, exit 3", async () => {
    const root = brokenRoot();
    const lax = await plan(["home", "--root", root]);
    expect(lax.code).toBe(0);
    const r = await plan(["home", "--root", root, "--strict"]);
    expect(r.code).toBe(3);
    expect(r.out).toBe(lax.out);
    const lines = r.err.split("\n");
    // Not replicated, so not drilled anywhere else either: 4 repositories, 2 findings each.
    expect(lines[0]).toBe(
      "plan: --strict: 8 guardrail findings (docs/guardrails.md); fix each before deploying:",
    );
    expect(lines.filter((l) => l.startsWith("  [drilled-elsewhere] home: "))).toHaveLength(4);
    expect(
      lines
        .filter((l) => l.startsWith("  [replicated] "))
        .map((l) => /^ {2}\[replicated\] home: Container (\S+)/.exec(l)?.[1]),
    ).toEqual([
      "home-home-assistant-backup-container",
      "home-immich-backup-container",
      "home-immich-db-backup-container",
      "home-vaultwarden-backup-container",
    ]);
    // Only the stacks asked for count: cloud's plan of the same broken fleet is clean.
    const cloud = await plan(["cloud", "--root", root, "--strict", "--json"]);
    expect(cloud.code).toBe(0);
  });

  it("as npm run plan starts it, the process exits 3", () => {
    const r = planProcess(["home", "--root", brokenRoot(), "--strict", "--assume-secrets"]);
    expect(r.code).toBe(3);
    expect(r.err).toContain("[replicated] home: Container home-immich-backup-container");
  });
});

describe("npm run plan -- --json", () => {
  let doc: {
    rounds: number;
    stacks: {
      stack: string;
      resources: {
        type: string;
        name: string;
        inputs: Record<string, unknown>;
        options: Record<string, unknown>;
      }[];
      outputs: Record<string, unknown>;
      routes: { url: string; service: string }[];
      monitors: { watcher: string; target: string; url: string }[];
      backups: { service: string; replicatedTo: string[] }[];
      warnings: string[];
    }[];
  };
  let raw: string;
  beforeAll(async () => {
    const r = await plan(["--json"]);
    expect(r.code).toBe(0);
    raw = r.out;
    doc = JSON.parse(raw);
  });

  it("lists every registered resource of every stack, with its options", async () => {
    const { evaluations } = await referenceFleet();
    expect(doc.stacks.map((s) => s.stack).sort()).toEqual([...STACK_NAMES].sort());
    for (const s of doc.stacks) {
      const e = evaluations[s.stack]!;
      expect(s.resources.map((r) => `${r.type}::${r.name}`)).toEqual(
        e.resources.map((r) => `${r.type}::${r.name}`),
      );
      expect(s.resources.length).toBeGreaterThan(30);
    }
    const home = doc.stacks.find((s) => s.stack === "home")!;
    const byName = (name: string) => home.resources.find((r) => r.name === name)!;
    expect(byName("home-immich-library").options).toMatchObject({
      retainOnDelete: true,
      deleteBeforeReplace: true,
    });
    expect(byName("home-immich-container").options).toMatchObject({
      deleteBeforeReplace: true,
      dependsOn: ["home-immich-db-container", "home-immich-redis-container"],
      parent: "home-immich",
    });
    expect(byName("home-immich-container").inputs).toMatchObject({
      name: "immich",
      restart: "unless-stopped",
    });
    expect(home.outputs.backupPasswords).toBe("[secret]");
    expect(home.routes).toContainEqual({
      url: "https://vault.home.example.com",
      service: "vaultwarden",
      auth: false,
    });
    expect(home.monitors).toContainEqual(
      expect.objectContaining({
        watcher: "home",
        target: "cloud",
        url: "starttls://mail.cloud.example.com:587",
      }),
    );
    expect(home.backups.find((b) => b.service === "vaultwarden")!.replicatedTo).toEqual([
      "cloud",
      "offsite",
    ]);
  });

  it("never contains the plaintext of a secret", async () => {
    const { evaluations } = await referenceFleet();
    const secrets = secretsOf(evaluations);
    // The list is real: the same evaluation, unredacted, holds every one of them.
    expect(secrets.length).toBeGreaterThan(25);
    const unredacted = JSON.stringify(reveal(Object.values(evaluations)));
    expect(secrets.filter((s) => !holds(unredacted, s))).toEqual([]);
    expect(secrets.filter((s) => holds(raw, s))).toEqual([]);
    expect(raw).toContain('"[secret]"');
    expect(raw).not.toContain("placeholder-");
  });

  it("keeps secrets out of the text report and the --out files too", async () => {
    const { evaluations } = await referenceFleet();
    const secrets = secretsOf(evaluations);
    const dir = mkdtempSync(join(tmpdir(), "homelab-plan-out-"));
    temps.push(dir);
    const r = await plan(["--out", dir]);
    const files = ["home.md", "cloud.md", "offsite.md", "fleet.md", "fleet.dot", "fleet.svg"];
    const all = r.out + files.map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
    expect(secrets.filter((s) => holds(all, s))).toEqual([]);
  });
});

describe("npm run plan -- --out DIR", () => {
  let dir: string;
  let result: { code: number; out: string; err: string };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "homelab-plan-out-"));
    temps.push(dir);
    result = await plan(["--out", dir]);
  });

  it("writes a report per server and a fleet report with a Mermaid topology", () => {
    expect(result.code).toBe(0);
    for (const s of STACK_NAMES) {
      const md = readFileSync(join(dir, `${s}.md`), "utf8");
      expect(md).toMatch(new RegExp(`^# ${s}\\n`));
      for (const h of [
        "## Containers",
        "## Routes",
        "## Monitors",
        "## Backups",
        "## Update policy",
        "## Warnings",
      ])
        expect(md, `${s}: ${h}`).toContain(h);
    }
    // The backups table has a capture column.
    const home = readFileSync(join(dir, "home.md"), "utf8");
    expect(home).toContain("| service | what | capture | schedule |");
    expect(home).toContain(
      "| **vaultwarden** | volume vaultwarden-data | sqlite (data/db.sqlite3 copied online, integrity-checked) |",
    );
    const fleet = readFileSync(join(dir, "fleet.md"), "utf8");
    expect(fleet).toContain("![fleet topology](fleet.svg)");
    const mermaid = /```mermaid\n([\s\S]*?)```/.exec(fleet)![1]!;
    expect(mermaid).toMatch(/^flowchart LR\n/);
    for (const s of STACK_NAMES) expect(mermaid).toContain(`  subgraph server_${s}["${s}: `);
    expect(mermaid).toContain('home_gatus -.->|"watches 11"| cloud_services');
    expect(mermaid).toContain(
      'home_backups ==>|"replicates home-assistant, immich, immich-db, vaultwarden"| offsite_backups',
    );
  });

  it("renders the topology to an SVG that parses, with every server, monitor and replica arrow", () => {
    const svg = readFileSync(join(dir, "fleet.svg"), "utf8");
    expect(XMLValidator.validate(svg)).toBe(true);
    const tree = new XMLParser({ ignoreAttributes: false }).parse(svg) as { svg: { g: unknown } };
    const titles: string[] = [];
    const texts: string[] = [];
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) return n.forEach(walk);
      if (!n || typeof n !== "object") return;
      for (const [k, v] of Object.entries(n)) {
        if (k === "title") titles.push(String(v).replace(/&#45;/g, "-"));
        else if (k === "text")
          (Array.isArray(v) ? v : [v]).forEach((t) =>
            texts.push(String((t as { "#text"?: string })["#text"] ?? t)),
          );
        else walk(v);
      }
    };
    walk(tree.svg);
    for (const s of STACK_NAMES) {
      expect(titles).toContain(`cluster_${s}`);
      expect(texts).toContain(s);
    }
    // Both directions between two servers share one arrow (dir=both).
    for (const edge of [
      "cloud_gatus->home_gatus",
      "cloud_gatus->offsite_gatus",
      "home_gatus->offsite_gatus",
    ])
      expect(titles).toContain(edge);
    for (const edge of [
      "cloud_backups->home_backups",
      "cloud_backups->offsite_backups",
      "home_backups->offsite_backups",
    ])
      expect(titles).toContain(edge);
    expect(texts).toContain("home watches 11 endpoints of cloud");
    expect(texts).toContain("photos.home.example.com");
  });

  it("says where it wrote them", () => {
    expect(result.err).toContain(`plan: wrote ${join(dir, "cloud.md")}`);
    expect(existsSync(join(dir, "fleet.dot"))).toBe(true);
  });
});

describe("npm run plan with bad config", () => {
  it("exits 1 with every problem of every stack, no stack trace and no partial plan", () => {
    const root = projectCopy(["home", "cloud", "offsite"], {
      home: (t) =>
        t.replace("homelab:sshUser: deploy", "homelab:sshUser: deploy\n  homelab:sshPort: abc"),
      cloud: (t) =>
        t.replace("homelab:acmeChallenge: http", "homelab:acmeChallenge: carrier-pigeon"),
    });
    const r = planProcess(["--root", root]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    // A wrong type is the CLI's to refuse, before the program starts: its own words
    // (github:pulumi/pulumi pkg/workspace/config.go, validateStackConfigValue).
    expect(r.err).toContain(
      "validating stack config: Stack 'home' with configuration key 'sshPort' must be of type 'integer'",
    );
    expect(r.err).not.toContain('Invalid configuration for stack "home"');
    // The rest is the program's, with the secrets nobody set, as `pulumi preview` reports them.
    expect(r.err).toContain(
      'Invalid configuration for stack "cloud" (Pulumi.cloud.yaml), 2 problems:\n  acmeChallenge: expected one of "http", "dns", got "carrier-pigeon"\n  smtpPassword: required when fallbackAlert is an e-mail address: run pulumi config set --secret smtpPassword <password>',
    );
    expect(r.err).toContain(
      'Invalid configuration for stack "offsite" (Pulumi.offsite.yaml), 1 problem:\n  acmeDnsToken: required when acmeChallenge is "dns": run pulumi config set --secret acmeDnsToken <token>',
    );
    expect(r.err).toContain("No plan: fix the configuration above and run again.");
    expect(r.err).toContain("To plan before the secrets are set: npm run plan -- --assume-secrets");
    expect(r.err).not.toMatch(/^\s+at /m);
    expect(r.err).not.toContain("warning: [runtime]");
  });

  it("a secret in plain text is refused by name as a real run refuses it, its value never shown", async () => {
    const root = projectCopy(["home", "cloud", "offsite"], {
      cloud: (t) => `${t}  homelab:smtpPassword: hunter2-plaintext\n`,
    });
    const r = await plan(["cloud", "--root", root]);
    expect(r.code).toBe(1);
    // The same message the program gives through Pulumi's loader (test/engine.test.ts).
    expect(r.err).toContain(
      'Invalid configuration for stack "cloud" (Pulumi.cloud.yaml), 1 problem:\n  smtpPassword: must be a secret: it is in plain text in Pulumi.cloud.yaml; remove it there (and rotate it if the file was shared) and run pulumi config set --secret smtpPassword <value>',
    );
    expect(r.out + r.err).not.toContain("hunter2-plaintext");
  });

  it("a secret set with --secret (a secure value in the file) counts as set, unread", async () => {
    // What `pulumi config set --secret smtpPassword …` writes: ciphertext only the CLI reads.
    const root = projectCopy(["home", "cloud", "offsite"], {
      cloud: (t) => `${t}  homelab:smtpPassword:\n    secure: v1:c2VjcmV0LWNpcGhlcnRleHQ=\n`,
    });
    const r = await plan(["cloud", "--root", root, "--json"], { secrets: false });
    // cloud plans; only its peers home and offsite lack their DNS token.
    expect(r.err).not.toContain('Invalid configuration for stack "cloud"');
    expect(r.err).toContain('Invalid configuration for stack "home"');
    expect(r.out + r.err).not.toContain("c2VjcmV0LWNpcGhlcnRleHQ=");
  });

  it("a Pulumi.yaml that is not YAML is named once, not blamed on a stack file", () => {
    const root = projectCopy(["home", "cloud", "offsite"]);
    writeFileSync(join(root, "Pulumi.yaml"), "name: homelab\nruntime: [nodejs\n");
    const r = planProcess(["--root", root]);
    expect(r.code).toBe(1);
    expect(r.err.match(/Pulumi\.yaml: not valid YAML \(.+\); fix the file's syntax/g)).toHaveLength(
      1,
    );
    expect(r.err).not.toContain("Pulumi.home.yaml");
    expect(r.err).toContain("No plan: fix the configuration above and run again.");
    expect(r.err).not.toMatch(/^\s+at /m);
  });

  it("a service override set with --secret is refused: it would reach the container in plain text", async () => {
    const root = projectCopy(["home", "cloud", "offsite"], {
      home: (t) =>
        t.replace(
          '        INVITATIONS_ALLOWED: "true"',
          '        INVITATIONS_ALLOWED: "true"\n        ADMIN_TOKEN:\n          secure: v1:YWRtaW4tdG9rZW4=',
        ),
    });
    const r = await plan(["home", "--root", root]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      "services: set with --secret, but the program reads it as plain text, so its value would reach the server's resources unprotected",
    );
    expect(r.err).not.toContain("YWRtaW4tdG9rZW4=");
  });

  it("names a stack config that is not YAML", () => {
    const root = projectCopy(["home", "cloud", "offsite"], {
      offsite: (t) => `${t}\n  - [unclosed\n`,
    });
    const r = planProcess(["--json", "--root", root]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(
      /Invalid configuration for stack "offsite" \(Pulumi\.offsite\.yaml\), 1 problem:\n  Pulumi\.offsite\.yaml: not valid YAML \(.+\); fix the file's syntax/,
    );
    expect(r.err).not.toMatch(/^\s+at /m);
  });

  it("refuses a stack that has no config file, listing the ones that do", async () => {
    const r = await plan(["home", "nosuch"]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain(
      `Invalid configuration for stack "nosuch" (Pulumi.nosuch.yaml), 1 problem:\n  stack: no Pulumi.nosuch.yaml in ${ROOT} (stacks with a config file: cloud, home, offsite)`,
    );
  });

  it("rejects an unknown option with the usage", async () => {
    const r = await plan(["--jsno"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^plan: unknown option --jsno\nusage: npm run plan -- /);
  });
});

describe("topology renderers", () => {
  const t = {
    servers: [
      {
        stack: "end",
        role: "a",
        services: [{ name: "web", url: "https://web.example.com" }],
        system: ["traefik"],
        localChecks: 1,
        heartbeats: 0,
        backups: 1,
        replicas: 0,
      },
      {
        stack: "b-2",
        role: 'say "hi"',
        services: [],
        system: [],
        localChecks: 0,
        heartbeats: 0,
        backups: 0,
        replicas: 1,
      },
    ],
    monitors: [{ from: "b-2", to: "end", count: 1 }],
    replication: [{ from: "end", to: "b-2", services: ["web"] }],
  };

  it("Mermaid: keyword-safe ids, escaped quotes, one edge per direction", () => {
    expect(renderMermaid(t)).toBe(
      [
        "flowchart LR",
        '  subgraph server_end["end: a"]',
        "    direction TB",
        '    end_services["web · web.example.com"]',
        '    end_gatus["gatus: 1 local check, 0 heartbeats"]',
        '    end_backups[("restic: 1 repository, 0 replicas")]',
        "  end",
        '  subgraph server_b_2["b-2: say #quot;hi#quot;"]',
        "    direction TB",
        '    b_2_services["no services of its own"]',
        '    b_2_gatus["gatus: 0 local checks, 0 heartbeats"]',
        '    b_2_backups[("restic: 0 repositories, 1 replica")]',
        "  end",
        '  b_2_gatus -.->|"watches 1"| end_services',
        '  end_backups ==>|"replicates web"| b_2_backups',
        "  classDef mon stroke:#1f6feb",
        "  class end_gatus mon",
        "  class b_2_gatus mon",
        "",
      ].join("\n"),
    );
  });

  it("DOT: a one-way arrow keeps its direction when the pair is sorted the other way", () => {
    const dot = renderDot(t);
    expect(dot).toContain("  b_2_gatus -> end_gatus [dir=forward,");
    expect(dot).toContain("  b_2_backups -> end_backups [dir=back,");
    expect(dot).toContain("<td>end → b-2: web</td>");
  });

  it("lays the DOT out with Graphviz itself, and reports Graphviz's error on bad input", async () => {
    const svg = await renderSvg(renderDot(t));
    expect(svg).toMatch(/^<\?xml[^]*<svg [^]*<\/svg>\s*$/);
    // Graphviz's node ids and the servers' labels reach the picture.
    expect(svg).toContain("<title>b_2_gatus</title>");
    expect(svg).toContain("end → b&#45;2: web");
    await expect(renderSvg("digraph { a -> }")).rejects.toThrow(/^Graphviz failed: .*syntax error/);
  });
});
