/**
 * The program run the way `pulumi preview` and `pulumi up` run it: `@pulumi/pulumi`'s own entry
 * (cmd/run, ts-node as configured in Pulumi.yaml) against a stand-in engine over gRPC
 * (test/engine/engine.ts), with config merged and handed over as the CLI does
 * (lib/cli-config.ts). For every Pulumi.<stack>.yaml of the repository.
 */
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import {
  Evaluation,
  RegisteredResource,
  Secret,
  containsSecret,
  evaluateStack,
  reveal,
} from "../cli/evaluate";
import { FleetError, configuredStacks, evaluateFleet } from "../cli/fleet";
import { makePlan } from "../cli/plan";
import { ConfigEdits, programConfigFor, readProjectFile } from "../lib/cli-config";
import { ConfigError } from "../lib/config";
import { BackendStacks, EngineRun, asEvaluation, runProgram, shown } from "./engine/engine";
import { ROOT, evaluateReference, headerSecrets, referenceConfig, referenceFleet } from "./helpers";

const STACKS = configuredStacks(ROOT);
const PROJECT = readProjectFile(ROOT);
/** Exit code of a program that already reported an actionable error (cmd/run/index.js). */
const REPORTED = 32;

/** A new fleet: every stack exists in the backend, none deployed yet. */
const freshBackend = (): BackendStacks => Object.fromEntries(STACKS.map((s) => [s, null]));

function run(
  stack: string,
  o: ConfigEdits & { dryRun?: boolean; stacks?: BackendStacks } = {},
): Promise<EngineRun> {
  return runProgram({
    root: ROOT,
    project: PROJECT,
    stack,
    config: programConfigFor(ROOT, stack, { secrets: o.secrets, values: o.values }),
    dryRun: o.dryRun ?? true,
    stacks: o.stacks ?? freshBackend(),
  });
}

/**
 * Where `engine` differs from `mock`: values must be equal, and a secret of the mock must be
 * secret in the engine's value too. The real engine supports output values
 * (`supportsFeatureID("outputValues")`), so the SDK sends a secret element of a list as a secret
 * element; the mock runtime does not (`setMocks`: supportsOutputValues false), so there the
 * whole list is secret. A secret moved inward is the same secret; one gone is a difference.
 */
function secretDiffs(engine: unknown, mock: unknown, path = ""): string[] {
  if (mock instanceof Secret) {
    if (engine instanceof Secret) return secretDiffs(engine.value, mock.value, path);
    if (!containsSecret(engine)) return [`${path}: secret in the mock, plain in the engine`];
    return isDeepStrictEqual(reveal(engine), reveal(mock)) ? [] : [`${path}: values differ`];
  }
  if (engine instanceof Secret) return [`${path}: secret in the engine, plain in the mock`];
  if (Array.isArray(mock) && Array.isArray(engine)) {
    if (mock.length !== engine.length)
      return [`${path}: ${engine.length} items, mock ${mock.length}`];
    return mock.flatMap((m, i) => secretDiffs(engine[i], m, `${path}[${i}]`));
  }
  if (isObject(mock) && isObject(engine)) {
    const keys = [...new Set([...Object.keys(mock), ...Object.keys(engine)])].sort();
    return keys.flatMap((k) => secretDiffs(engine[k], mock[k], `${path}.${k}`));
  }
  if (isDeepStrictEqual(engine, mock)) return [];
  const show = (v: unknown) => JSON.stringify(v)?.slice(0, 200);
  return [`${path}: ${show(engine)} in the engine, ${show(mock)} in the mock`];
}
const isObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === "object" && !Array.isArray(v);

const names = (rs: RegisteredResource[]) => rs.map((r) => `${r.type}::${r.name}`).sort();

/** The program's message for each reference stack as committed, with no secret set. */
const BARE: Record<string, string> = {
  home: 'Invalid configuration for stack "home" (Pulumi.home.yaml), 1 problem:\n  acmeDnsToken: required when acmeChallenge is "dns": run pulumi config set --secret acmeDnsToken <token>',
  cloud:
    'Invalid configuration for stack "cloud" (Pulumi.cloud.yaml), 1 problem:\n  smtpPassword: required when fallbackAlert is an e-mail address: run pulumi config set --secret smtpPassword <password>',
  offsite:
    'Invalid configuration for stack "offsite" (Pulumi.offsite.yaml), 1 problem:\n  acmeDnsToken: required when acmeChallenge is "dns": run pulumi config set --secret acmeDnsToken <token>',
};

describe.each(STACKS)("pulumi preview --stack %s, through Pulumi's own loader", (stack) => {
  it("as committed, no secret set: one config message naming the secrets to set, no stack trace", async () => {
    const r = await run(stack);
    expect(r.exitCode).toBe(REPORTED);
    expect(r.hostError).toBe("");
    expect(r.errors).toHaveLength(1);
    if (BARE[stack]) expect(r.errors[0]).toBe(BARE[stack]);
    // Every secret it asks for is one the stack file's header tells its user to set.
    const asked = [...r.errors[0]!.matchAll(/pulumi config set --secret (\w+)/g)].map((m) => m[1]);
    expect(asked.length).toBeGreaterThan(0);
    for (const key of asked) expect(Object.keys(headerSecrets(stack))).toContain(key);
    expect(shown(r)).not.toMatch(/^\s+at /m);
    // Nothing registered but the root stack: the config is checked before any resource.
    expect(names(r.resources)).toEqual([`pulumi:pulumi:Stack::homelab-${stack}`]);
    // The mock evaluation and the plan read config the same way and say the same.
    const mock = await evaluateStack(stack, programConfigFor(ROOT, stack), { quiet: true }).catch(
      (e: unknown) => e,
    );
    expect(mock).toBeInstanceOf(ConfigError);
    expect((mock as Error).message).toBe(r.errors[0]);
    const plan = await makePlan({ root: ROOT, stacks: [stack] }).catch((e: unknown) => e);
    expect(plan).toBeInstanceOf(FleetError);
    expect((plan as Error).message).toContain(r.errors[0]);
  });

  describe("with the secrets its header names", () => {
    let r: EngineRun;
    let mock: Evaluation;
    beforeAll(async () => {
      r = await run(stack, { secrets: headerSecrets(stack) });
      mock = await evaluateReference(stack);
    });

    it("the preview finishes, with no error and no stack trace", () => {
      expect(r.errors, shown(r)).toEqual([]);
      expect(r.exitCode).toBe(0);
      expect(shown(r)).not.toMatch(/^\s+at /m);
    });

    it("registers the same resources (type and name) as the mock evaluation", () => {
      expect(names(asEvaluation(r).resources)).toEqual(names(mock.resources));
    });

    it("with the same safety options (protect, retainOnDelete, deleteBeforeReplace)", () => {
      const safety = (rs: RegisteredResource[]) =>
        rs.map((x) => ({
          r: `${x.type}::${x.name}`,
          protect: x.options.protect ?? false,
          retainOnDelete: x.options.retainOnDelete ?? false,
          deleteBeforeReplace: x.options.deleteBeforeReplace ?? false,
        }));
      expect(safety(asEvaluation(r).resources)).toEqual(safety(mock.resources));
    });

    it("warns as the mock evaluation does, and of nothing else (no undefined stack output)", () => {
      expect(asEvaluation(r).warnings.sort()).toEqual([...mock.warnings].sort());
      expect(shown(r)).not.toContain("will not show as a stack output");
    });
  });
});

describe("pulumi up of the whole fleet, peers' outputs through stack references", () => {
  let engine: Record<string, Evaluation>;
  let mock: Record<string, Evaluation>;
  beforeAll(async () => {
    const fleet = await evaluateFleet({
      stacks: STACKS,
      known: STACKS,
      evaluate: async (stack, peers) => {
        const r = await run(stack, {
          secrets: headerSecrets(stack),
          dryRun: false,
          stacks: { ...freshBackend(), ...peers },
        });
        if (r.errors.length) throw new Error(`${stack}: ${r.errors.join("\n")}`);
        return asEvaluation(r);
      },
    });
    engine = fleet.evaluations;
    mock = (await referenceFleet()).evaluations;
  }, 600_000);

  it.each(STACKS)("%s: the stack outputs equal the mock evaluation's, secrets as secrets", (s) => {
    expect(secretDiffs(engine[s]!.outputs, mock[s]!.outputs)).toEqual([]);
    expect(engine[s]!.outputs.backupPasswords).toBeInstanceOf(Secret);
    expect(engine[s]!.outputs.credentials).toBeInstanceOf(Secret);
  });

  it.each(STACKS)("%s: every resource registers the inputs the mock evaluation registers", (s) => {
    expect(names(engine[s]!.resources)).toEqual(names(mock[s]!.resources));
    const inputs = (e: Evaluation) =>
      Object.fromEntries(e.resources.map((x) => [`${x.type}::${x.name}`, x.inputs]));
    expect(secretDiffs(inputs(engine[s]!), inputs(mock[s]!))).toEqual([]);
  });

  it("a peer with outputs is watched and replicated, and warned about no more", () => {
    for (const s of STACKS) {
      expect(engine[s]!.warnings.filter((w) => /^peer |cannot replicate/.test(w))).toEqual([]);
    }
    const homeGatus = JSON.stringify(
      reveal(engine.home!.resources.find((x) => x.name === "home-gatus-container")?.inputs),
    );
    expect(homeGatus).toContain("cloud.example.com");
  });
});

describe("a server from its stack file alone (issue 13), through Pulumi's own loader", () => {
  it("Pulumi.lab.yaml made from offsite's, no stacks/lab.ts: previews like the mock evaluation", async () => {
    // The program finds stacks/*.ts with the loader's own require: tsx's CommonJS hook, which
    // `--import tsx` registers too (tsx 4.23.15 dist/loader.mjs: `import"#cjs-loader"`, its
    // package.json `imports` → ./dist/cjs/index.cjs). lab has none and is its file alone.
    const dir = mkdtempSync(join(tmpdir(), "homelab-lab-"));
    try {
      cpSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
      const text = readFileSync(join(ROOT, "Pulumi.offsite.yaml"), "utf8");
      writeFileSync(join(dir, "Pulumi.lab.yaml"), text.replaceAll("offsite", "lab"));
      const config = programConfigFor(dir, "lab", { secrets: headerSecrets("offsite") });
      const r = await runProgram({
        root: ROOT,
        project: PROJECT,
        stack: "lab",
        config,
        dryRun: true,
        stacks: { ...freshBackend(), lab: null },
      });
      expect(r.errors, shown(r)).toEqual([]);
      expect(r.exitCode).toBe(0);
      const mock = await evaluateStack("lab", config, { quiet: true });
      expect(names(asEvaluation(r).resources)).toEqual(names(mock.resources));
      expect(names(mock.resources)).toContain(
        "docker:index/container:Container::lab-backup-replicas-container",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("peers as the README promises", () => {
  it("a peer never deployed: a warning with the next step, and the stack still builds", async () => {
    const r = await run("home", { secrets: headerSecrets("home") });
    expect(r.exitCode).toBe(0);
    expect(r.logs).toContainEqual({
      severity: "warning",
      message:
        'peer "offsite" has no outputs: it is not deployed yet. Deploy it (`pulumi up --stack offsite`), then run `pulumi up --stack home` again; until then nothing of it is watched or replicated.',
      urn: expect.any(String),
    });
  });

  it("a peer that does not exist: the engine's own error; in pendingPeers, not referenced", async () => {
    const { offsite: _gone, ...others } = freshBackend();
    const refused = await run("home", { secrets: headerSecrets("home"), stacks: others });
    // github:pulumi/pulumi pkg/backend/backend.go:417 (the builtin provider's read fails).
    // In a preview the engine says "Preview failed: …" (pkg/engine/update.go:1552).
    expect(refused.errors[0]).toBe('Preview failed: unknown stack "organization/homelab/offsite"');
    expect(refused.exitCode).not.toBe(0);

    const pending = await run("home", {
      secrets: headerSecrets("home"),
      values: { pendingPeers: ["offsite"] },
      stacks: others,
    });
    expect(pending.errors).toEqual([]);
    expect(pending.exitCode).toBe(0);
    expect(pending.references).toEqual(["organization/homelab/cloud"]);
  });
});

describe("the peers' organization", () => {
  it("is the stack's own by default: a Pulumi Cloud org needs no homelab:org", async () => {
    // The CLI passes the stack's organization as --organization (pulumi-language-nodejs
    // constructArguments); a self-managed backend always passes "organization".
    const r = await runProgram({
      root: ROOT,
      project: PROJECT,
      stack: "home",
      config: programConfigFor(ROOT, "home", { secrets: headerSecrets("home") }),
      dryRun: true,
      stacks: freshBackend(),
      organization: "acme",
    });
    expect(r.errors).toEqual([]);
    expect(r.references).toEqual(["acme/homelab/cloud", "acme/homelab/offsite"]);
  });

  it("homelab:org names another organization", async () => {
    const r = await runProgram({
      root: ROOT,
      project: PROJECT,
      stack: "home",
      config: programConfigFor(ROOT, "home", {
        secrets: headerSecrets("home"),
        values: { org: "organization" },
      }),
      dryRun: true,
      stacks: freshBackend(),
      organization: "acme",
    });
    // The stand-in backend knows only the stacks of the run's own organization.
    expect(r.errors[0]).toBe('Preview failed: unknown stack "organization/homelab/cloud"');
  });
});

describe("a value set with --secret where the program expects plain text", () => {
  it("is refused, not passed on unprotected (pulumi config set --secret --path services.…)", async () => {
    // What the CLI hands over for a nested secure value: the map decrypted, the key secret
    // (object.go Secure; source_eval.go SecureKeys).
    const base = referenceConfig("home");
    const services = JSON.parse(base.config["homelab:services"]!);
    services.vaultwarden.env.ADMIN_TOKEN = "sentinel-admin-token";
    const r = await runProgram({
      root: ROOT,
      project: PROJECT,
      stack: "home",
      config: {
        config: { ...base.config, "homelab:services": JSON.stringify(services) },
        secretKeys: [...base.secretKeys, "homelab:services"].sort(),
      },
      dryRun: true,
      stacks: freshBackend(),
    });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toContain(
      "services: set with --secret, but the program reads it as plain text, so its value would reach the server's resources unprotected: set it without --secret",
    );
    expect(shown(r)).not.toContain("sentinel-admin-token");
    expect(r.resources.map((x) => x.type)).toEqual(["pulumi:pulumi:Stack"]);
  });
});

describe("a secret set in plain text", () => {
  it("is refused by name, and its value appears nowhere", async () => {
    const r = await run("cloud", { values: { smtpPassword: "hunter2-plaintext" } });
    expect(r.errors).toEqual([
      'Invalid configuration for stack "cloud" (Pulumi.cloud.yaml), 1 problem:\n  smtpPassword: must be a secret: it is in plain text in Pulumi.cloud.yaml; remove it there (and rotate it if the file was shared) and run pulumi config set --secret smtpPassword <value>',
    ]);
    expect(shown(r)).not.toContain("hunter2-plaintext");
  });
});

describe("the TypeScript runtime", () => {
  it("Pulumi.yaml starts the program with tsx; tsx is a dependency, not a dev one", () => {
    expect(PROJECT.runtime.options).toMatchObject({ typescript: false, nodeargs: "--import tsx" });
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.dependencies.tsx).toBeDefined();
  });

  it("the SDK's ts-node also runs it, type-checked, after one module changed (TS5011)", async () => {
    // A copy of the project, so a module can change between two runs, as when a user edits one.
    const copy = mkdtempSync(join(tmpdir(), "homelab-ts-node-"));
    const cache = mkdtempSync(join(tmpdir(), "homelab-ts-node-cache-"));
    try {
      const program = ["index.ts", "lib", "components", "stacks", "configs"];
      for (const f of [...program, "package.json", "tsconfig.json", "Pulumi.yaml"])
        cpSync(join(ROOT, f), join(copy, f), { recursive: true });
      cpSync(join(ROOT, "Pulumi.offsite.yaml"), join(copy, "Pulumi.offsite.yaml"));
      symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
      const preview = () =>
        runProgram({
          root: copy,
          project: PROJECT,
          stack: "offsite",
          config: programConfigFor(copy, "offsite", { secrets: headerSecrets("offsite") }),
          dryRun: true,
          stacks: freshBackend(),
          // `typescript: true` is the SDK's default (pulumi-language-nodejs parseOptions).
          runtimeOptions: { typescript: true },
          env: { TMPDIR: cache },
        });
      expect((await preview()).errors).toEqual([]);
      // ts-node now has index.ts cached but not this module: it compiles it first, alone.
      appendFileSync(join(copy, "lib", "order.ts"), "\n// edited\n");
      const r = await preview();
      expect(r.errors, shown(r)).toEqual([]);
      expect(r.exitCode).toBe(0);
      expect(Object.keys(r.outputs).sort()).toEqual(
        [
          "backupPasswords",
          "backups",
          "catalogue",
          "credentials",
          "endpoints",
          "summary",
          "syncthing",
        ].sort(),
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

describe("updates: auto through the real loader", () => {
  it("the registry lookup names the stack's Docker provider (the stack file disables the default)", async () => {
    const r = await run("home", {
      secrets: headerSecrets("home"),
      values: { services: { "home-assistant": { updates: "auto" } } },
    });
    expect(r.errors, shown(r)).toEqual([]);
    const image = r.resources.find((x) => x.name === "home-home-assistant-container-image");
    expect(JSON.stringify(image?.inputs.pullTriggers)).toMatch(/sha256:[0-9a-f]{64}/);
  });
});

describe("the engine stand-in refuses what the real engine refuses", () => {
  const probe = (which: string) =>
    runProgram({
      root: ROOT,
      project: PROJECT,
      stack: "probe",
      config: {
        config: { "probe:case": which, "pulumi:disable-default-providers": '["docker"]' },
        secretKeys: [],
      },
      dryRun: true,
      entryPoint: "test/engine/fixtures/probe.ts",
    });

  it("a Docker resource or invoke without an explicit provider, when the stack disables it", async () => {
    // diag/errors.go:85, from step_generator.go (resources) and source_eval.go (invokes).
    const r = await probe("no-provider");
    expect(r.errors[0]).toBe(
      "Preview failed: Default provider for 'docker' disabled. 'urn:pulumi:probe::homelab::docker:index/network:Network::net' must use an explicit provider.",
    );
    const i = await probe("invoke");
    expect(shown(i)).toContain(
      "Default provider for 'docker' disabled. 'docker:index/getRegistryImage:getRegistryImage' must use an explicit provider.",
    );
    expect(i.exitCode).not.toBe(0);
  });

  it("two resources with one URN", async () => {
    const r = await probe("duplicate");
    expect(r.errors[0]).toBe(
      "Preview failed: Duplicate resource URN 'urn:pulumi:probe::homelab::docker:index/network:Network::net'; try giving it a unique name",
    );
  });
});
