/**
 * `npm run plan [-- [stack…] [--json] [--out DIR] [--root DIR] [--assume-secrets] [--strict]]`: the whole fleet's desired
 * state, offline. Evaluates the real program for every stack that has a Pulumi.<stack>.yaml
 * under Pulumi's mock runtime (no CLI, no backend, no network, placeholder secrets), serves
 * stack references from the other stacks' outputs until they settle, and prints what each
 * server will run. Bad config: every problem, exit code 1, no plan. `--strict`: exit code 3
 * when a planned stack has any guardrail finding (the gate CI and Deployments run first).
 */
import "./lazy-sdk";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError } from "../lib/config";
import type { Evaluation } from "./evaluate";
import {
  Fleet,
  FleetError,
  configuredStacks,
  evaluateFleet,
  fileEvaluator,
  planConfig,
  unsetSecrets,
  withoutDiagnostics,
} from "./fleet";
import { CliConfigError, ConfigFileError } from "../lib/cli-config";
import { Finding, checkStack, formatFinding, intentFromConfig } from "../lib/guardrails";
import { planWarnings } from "./plan-warnings";
import { ServerPlan, serverPlans } from "./report-model";
import { planText } from "./report-text";

export interface PlanArgs {
  stacks: string[];
  json: boolean;
  out?: string;
  root: string;
  /** Plan as if every secret a stack file leaves unset were set (lists them). */
  assumeSecrets: boolean;
  /** Exit with STRICT_EXIT when a planned stack has a guardrail finding. */
  strict: boolean;
}

/** Exit code of `--strict` when a planned stack breaks a guardrail. */
export const STRICT_EXIT = 3;

const USAGE = `usage: npm run plan -- [stack ...] [--json] [--out DIR] [--root DIR] [--assume-secrets] [--strict]
  stack ...         plan only these stacks (default: every Pulumi.<stack>.yaml in the project)
  --json            print one JSON document instead of the report
  --out DIR         also write DIR/<stack>.md, DIR/fleet.md, DIR/fleet.dot, DIR/fleet.svg
                    and DIR/homepage.md (the page of the fleet's homepage, if planned)
  --root DIR        the project directory (default: the one holding this CLI)
  --assume-secrets  plan as if every secret a stack file leaves unset had been set with
                    pulumi config set --secret (without it, a missing secret is the error
                    pulumi preview gives)
  --strict          exit ${STRICT_EXIT} when a planned stack has any guardrail finding
                    (docs/guardrails.md), after printing the plan and the findings`;

/** Thrown for a usage mistake; printed with the usage. */
export class UsageError extends Error {}

export function parseArgs(argv: string[], defaultRoot: string): PlanArgs {
  const a: PlanArgs = {
    stacks: [],
    json: false,
    root: defaultRoot,
    assumeSecrets: false,
    strict: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--json") a.json = true;
    else if (arg === "--assume-secrets") a.assumeSecrets = true;
    else if (arg === "--strict") a.strict = true;
    else if (arg === "--out" || arg === "--root") {
      const v = argv[++i];
      if (!v || v.startsWith("--")) throw new UsageError(`${arg} needs a directory`);
      if (arg === "--out") a.out = resolve(v);
      else a.root = resolve(v);
    } else if (arg === "-h" || arg === "--help") throw new UsageError("");
    else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
    else a.stacks.push(arg);
  }
  return a;
}

/** Everything the outputs are made from. */
export interface Plan {
  fleet: Fleet;
  /** Plans of the stacks asked for, in that order. */
  plans: ServerPlan[];
  /** Plans of every evaluated stack (referenced ones too): for cross-server views. */
  all: ServerPlan[];
  /** Secret keys assumed set, by stack (`--assume-secrets`); empty lists left out. */
  assumedSecrets: Record<string, string[]>;
  /** Guardrail findings of the stacks asked for, in that order (lib/guardrails). */
  findings: Finding[];
}

/** Evaluates the fleet and derives the plan; throws ConfigError/FleetError on bad config. */
export async function makePlan(
  args: Pick<PlanArgs, "stacks" | "root"> & Partial<Pick<PlanArgs, "assumeSecrets">>,
): Promise<Plan> {
  const mode = { assumeSecrets: args.assumeSecrets ?? false };
  const known = configuredStacks(args.root);
  const unknown = args.stacks.filter((s) => !known.includes(s));
  if (unknown.length) {
    throw new FleetError(
      unknown.map((s) => ({
        stack: s,
        error: new ConfigError(s, [
          `stack: no Pulumi.${s}.yaml in ${args.root} (stacks with a config file: ${known.join(", ") || "none"})`,
        ]),
      })),
    );
  }
  const wanted = args.stacks.length ? args.stacks : known;
  // A plan prints no stack trace and reports no leaked promise: skipping the SDK's diagnostics
  // makes evaluation several times faster.
  const fleet = await withoutDiagnostics(() =>
    evaluateFleet({
      stacks: wanted,
      known,
      evaluate: fileEvaluator(args.root, { quiet: true, ...mode }),
    }),
  );
  const all = serverPlans(fleet);
  // What each stack's config declares on purpose (a public Gatus, admin UIs), for the guardrails.
  const intent = Object.fromEntries(
    Object.keys(fleet.evaluations).map((s) => [
      s,
      intentFromConfig(s, planConfig(args.root, s, mode)),
    ]),
  );
  const findings = Object.fromEntries(
    Object.keys(fleet.evaluations).map((s) => [
      s,
      checkStack(fleet.evaluations[s]!, { fleet: fleet.evaluations, intent }),
    ]),
  );
  const warnings = planWarnings({
    evaluations: fleet.evaluations,
    plans: all,
    missing: fleet.missing,
    intent,
    findings,
  });
  for (const p of all) p.warnings = warnings[p.stack] ?? [];
  const assumedSecrets: Record<string, string[]> = {};
  for (const s of mode.assumeSecrets ? Object.keys(fleet.evaluations) : []) {
    const unset = unsetSecrets(args.root, s);
    if (unset.length) assumedSecrets[s] = unset;
  }
  return {
    fleet,
    all,
    plans: wanted.map((s) => all.find((p) => p.stack === s)!),
    assumedSecrets,
    findings: wanted.flatMap((s) => findings[s] ?? []),
  };
}

/** The `--json` document. Secrets serialize as "[secret]" (`Secret.toJSON`). */
export function planJson(plan: Plan): string {
  const stack = (p: ServerPlan, e: Evaluation) => ({
    stack: p.stack,
    resources: e.resources.map((r) => ({
      type: r.type,
      name: r.name,
      inputs: r.inputs,
      ...(r.provider ? { provider: r.provider } : {}),
      options: r.options,
    })),
    outputs: e.outputs,
    containers: p.containers,
    routes: p.routes,
    monitors: p.monitors,
    watchedBy: p.watchedBy,
    backups: p.backups,
    replicas: p.replicas,
    warnings: p.warnings,
  });
  return JSON.stringify(
    {
      rounds: plan.fleet.rounds,
      ...(Object.keys(plan.assumedSecrets).length ? { assumedSecrets: plan.assumedSecrets } : {}),
      stacks: plan.plans.map((p) => stack(p, plan.fleet.evaluations[p.stack]!)),
    },
    null,
    2,
  );
}

/** Runs the CLI; returns the exit code. Output goes through `write`/`fail`. */
export async function main(
  argv: string[],
  io: { write: (s: string) => void; fail: (s: string) => void },
  defaultRoot = join(__dirname, ".."),
): Promise<number> {
  let args: PlanArgs;
  try {
    args = parseArgs(argv, defaultRoot);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    (e.message ? io.fail : io.write)(`${e.message ? `plan: ${e.message}\n` : ""}${USAGE}\n`);
    return e.message ? 2 : 0;
  }
  if (!existsSync(join(args.root, "Pulumi.yaml"))) {
    io.fail(`plan: ${args.root} is not a Pulumi project (no Pulumi.yaml); pass --root DIR\n`);
    return 2;
  }
  let plan: Plan;
  try {
    plan = await makePlan(args);
  } catch (e) {
    if (e instanceof FleetError || e instanceof ConfigError) {
      const errors = e instanceof FleetError ? e.errors.map((x) => x.error) : [e];
      const config = errors.every(
        (x) =>
          x instanceof ConfigError || x instanceof CliConfigError || x instanceof ConfigFileError,
      );
      // The same text `pulumi preview` gives; the plan can go on without a missing secret's value.
      const secretsHint =
        !args.assumeSecrets && /required[^\n]*pulumi config set --secret/.test(e.message)
          ? "\nTo plan before the secrets are set: npm run plan -- --assume-secrets\n"
          : "";
      io.fail(
        `${e.message}\n\nNo plan: ${config ? "fix the configuration above" : "the program failed to evaluate (above)"} and run again.\n${secretsHint}`,
      );
      return 1;
    }
    throw e;
  }
  if (args.out) {
    const { writeReports } = await import("./report-markdown");
    const written = await writeReports(plan, args.out);
    io.write(report(plan, args.json) + "\n");
    io.fail(`plan: wrote ${written.files.map((f) => join(args.out!, f)).join(", ")}\n`);
    if (written.error) {
      io.fail(`plan: ${written.error}\n`);
      return 1;
    }
    return strictCode(plan, args, io);
  }
  io.write(report(plan, args.json) + "\n");
  return strictCode(plan, args, io);
}

/** `--strict`: the findings on stderr and STRICT_EXIT when there is any. */
function strictCode(plan: Plan, args: PlanArgs, io: { fail: (s: string) => void }): number {
  if (!args.strict || plan.findings.length === 0) return 0;
  const n = plan.findings.length;
  io.fail(
    `plan: --strict: ${n} guardrail finding${n === 1 ? "" : "s"} (docs/guardrails.md); fix each before deploying:\n` +
      plan.findings.map((f) => `  ${formatFinding(f)}\n`).join(""),
  );
  return STRICT_EXIT;
}

function report(plan: Plan, json: boolean): string {
  if (json) return planJson(plan);
  const assumed = Object.entries(plan.assumedSecrets).map(
    ([s, keys]) => `${s}: ${keys.join(", ")}`,
  );
  const header = assumed.length
    ? `Secrets assumed set with pulumi config set --secret (--assume-secrets): ${assumed.join("; ")}\n\n`
    : "";
  return header + planText(plan.plans, plan.fleet.rounds);
}

if (require.main === module) {
  // A ConfigError thrown inside the program also rejects the SDK's own stack promise; it has
  // been reported once already, with its problems: keep it from printing a second time.
  process.on("unhandledRejection", (e) => {
    if (e instanceof ConfigError) return;
    process.stderr.write(`plan: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(70);
  });
  main(process.argv.slice(2), {
    write: (s) => process.stdout.write(s),
    fail: (s) => process.stderr.write(s),
  }).then(
    // Exit once both streams are flushed: a bare process.exit() cuts a large --json document
    // short on a pipe, and the SDK keeps timers that would hold the process for seconds.
    (code) => {
      let pending = 2;
      const done = () => --pending === 0 && process.exit(code);
      process.stdout.write("", done);
      process.stderr.write("", done);
    },
    (e: unknown) => {
      process.stderr.write(
        `plan: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
      process.exit(70);
    },
  );
}
