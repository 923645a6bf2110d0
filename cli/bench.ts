/**
 * `npm run bench`: what an offline evaluation costs. For the reference fleet (every stack,
 * references settled, as `npm run plan` does it) and for one synthetic server with 50, 200 and
 * 800 services: wall time and peak memory of the evaluation, milliseconds and megabytes per
 * registered resource, and resources per service. Each case runs in a fresh process, so its
 * peak memory is its own and no case warms the JIT for the next. Then `npm run plan` end to end,
 * and the start-up of the program through Pulumi's own entry point with each TypeScript runtime
 * (cold and warm, per stack). Prints figures; not a test.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServiceSpec } from "../lib/model";
import { programConfigFor, readProjectFile } from "../lib/cli-config";
import { SECRET_KEYS } from "../lib/config";
import { evaluateStack } from "./evaluate";
import {
  configuredStacks,
  evaluateFleet,
  assumedSecret,
  fileEvaluator,
  planConfig,
  withoutDiagnostics,
} from "./fleet";

const ROOT = join(__dirname, "..");

interface Result {
  case: string;
  wallMs: number;
  /** CPU time (user + system) of the evaluation: less noisy than wall time on a busy machine. */
  cpuMs: number;
  /** Synthetic cases: a 1-service evaluation first, which loads what the SDK loads lazily. */
  firstEvalMs?: number;
  /** Resources registered, over every evaluation (the fleet evaluates some stacks twice). */
  resources: number;
  services: number;
  evaluations: number;
  rounds?: string;
  /** RSS before the evaluation, and the process's high-water mark after it. */
  baseRssMb: number;
  peakRssMb: number;
}

/** A server with `n` routed, stateful, backed-up services: the expensive kind of service. */
export function syntheticServices(n: number): ServiceSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `app${i + 1}`,
    description: `synthetic service ${i + 1}`,
    image: `example/app${i % 10}:1.${i % 7}`,
    http: { port: 8080, healthPath: "/health" },
    env: { APP_MODE: "production" },
    volumes: [{ name: "data", path: "/data" }],
    updates: i % 3 === 0 ? "notify" : "pinned",
  }));
}

const mb = (bytes: number) => bytes / 1024 / 1024;
const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

async function runCase(name: string): Promise<Result> {
  return name === "fleet-sdk-diagnostics-on"
    ? measure(name)
    : withoutDiagnostics(() => measure(name));
}

async function measure(name: string): Promise<Result> {
  if (name.startsWith("fleet")) {
    const baseRss = process.memoryUsage().rss;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const known = configuredStacks(ROOT);
    const evaluate = fileEvaluator(ROOT, { quiet: true, assumeSecrets: true });
    let resources = 0;
    let evaluations = 0;
    const fleet = await evaluateFleet({
      stacks: known,
      known,
      evaluate: async (s, peers) => {
        const e = await evaluate(s, peers);
        resources += e.resources.length;
        evaluations++;
        return e;
      },
    });
    const wallMs = performance.now() - start;
    const services = Object.values(fleet.evaluations).reduce(
      (n, e) => n + e.resources.filter((r) => r.type === "homelab:index:Service").length,
      0,
    );
    return {
      case: name,
      wallMs,
      cpuMs: cpuMs(cpu0),
      resources,
      services,
      evaluations,
      rounds: fleet.log.map((l) => `${l.round}: ${l.stacks.join(",")}`).join("; "),
      baseRssMb: mb(baseRss),
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  }
  const n = Number(/^synthetic-(\d+)$/.exec(name)?.[1]);
  if (!Number.isInteger(n)) throw new Error(`unknown bench case ${name}`);
  // The first evaluation in a process also loads the parts of the SDK it requires lazily: a
  // fixed cost, measured apart so the figures per resource are the marginal cost.
  const firstEvalMs = performance.now();
  await synthetic(1);
  const warm = { wallMs: performance.now() - firstEvalMs, rss: process.memoryUsage().rss };
  const cpu1 = process.cpuUsage();
  const start1 = performance.now();
  const e = await synthetic(n);
  return {
    case: name,
    wallMs: performance.now() - start1,
    cpuMs: cpuMs(cpu1),
    firstEvalMs: warm.wallMs,
    resources: e.resources.length,
    services: n,
    evaluations: 1,
    baseRssMb: mb(warm.rss),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

/** One server running `n` synthetic services, on offsite's real config without peers. */
function synthetic(n: number) {
  const config = programConfigFor(ROOT, "offsite", {
    secrets: Object.fromEntries(SECRET_KEYS.map((k) => [k, assumedSecret(k)])),
    values: { peers: [], ntfyServer: "", homepageServer: "", backupReplicateTo: [] },
  });
  return evaluateStack("synthetic", config, {
    quiet: true,
    declare: () => ({ role: `synthetic, ${n} services`, services: syntheticServices(n) }),
  });
}

const CASES = [
  "fleet",
  "fleet-sdk-diagnostics-on",
  "synthetic-50",
  "synthetic-200",
  "synthetic-800",
] as const;

/**
 * Node flags of `npm run plan` (package.json): a 64 MB young generation. Each scavenge gets
 * slower as the heap grows, so fewer, larger ones cost less on big servers. Measured with
 * --trace-gc on 800 services: 352 scavenges and 11.3 s by default, 103 and 9.0 s with it;
 * 200 services take 2.3 s either way.
 */
const NODE_FLAGS = ["--max-semi-space-size=64"];

function runInChild(name: string): Result {
  const r = spawnSync(
    process.execPath,
    [...NODE_FLAGS, "--import", "tsx", __filename, "--case", name],
    {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  if (r.status !== 0) throw new Error(`bench case ${name} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Result;
}

function report(results: Result[]): string {
  const rows = [
    [
      "case",
      "wall ms",
      "cpu ms",
      "peak RSS MB",
      "resources",
      "ms/resource",
      "MB/resource",
      "res/service",
    ],
    ...results.map((r) => [
      r.case,
      r.wallMs.toFixed(0),
      r.cpuMs.toFixed(0),
      r.peakRssMb.toFixed(0),
      String(r.resources),
      (r.wallMs / r.resources).toFixed(2),
      ((r.peakRssMb - r.baseRssMb) / r.resources).toFixed(2),
      r.services
        ? (
            r.resources /
            r.evaluations /
            (r.services / (r.case.startsWith("fleet") ? 3 : 1))
          ).toFixed(1)
        : "-",
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r.map((c, i) => (i ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  "),
  );
  const by = (c: string) => results.find((r) => r.case === c)!;
  const fleet = by("fleet");
  const ratio = by("synthetic-800").wallMs / by("synthetic-200").wallMs;
  const cpuRatio = by("synthetic-800").cpuMs / by("synthetic-200").cpuMs;
  const first = results.filter((r) => r.firstEvalMs !== undefined).map((r) => r.firstEvalMs!);
  const worst = Math.max(
    ...results
      .filter((r) => r.case !== "fleet-sdk-diagnostics-on")
      .map((r) => r.wallMs / r.resources),
  );
  const check = (ok: boolean) => (ok ? "ok  " : "MISS");
  return [
    ...lines,
    "",
    `fleet rounds (stacks evaluated per round): ${fleet.rounds}`,
    `MB/resource: (peak RSS − RSS before the evaluation) / resources; the SDK and program load first (~${fleet.baseRssMb.toFixed(0)} MB).`,
    `res/service: synthetic = resources / services; fleet = resources per evaluation / (services / 3 stacks).`,
    "",
    `${check(fleet.wallMs < 3000)} reference fleet, every stack, references settled: ${fleet.wallMs.toFixed(0)} ms (target < 3000 ms)`,
    `${check(worst <= 4)} slowest case per resource: ${worst.toFixed(2)} ms (target ≤ 4 ms)`,
    `${check(ratio <= 4.5)} 800 services / 200 services time: ${ratio.toFixed(2)}× wall, ${cpuRatio.toFixed(2)}× CPU (target ≤ 4.5×)`,
    `     synthetic cases: a first 1-service evaluation (lazy SDK loading, JIT) took ${Math.min(...first).toFixed(0)}–${Math.max(...first).toFixed(0)} ms, not counted above`,
    `     with the SDK's diagnostics on (stack traces, call sites, leak tracking): fleet ${by("fleet-sdk-diagnostics-on").wallMs.toFixed(0)} ms, ${(by("fleet-sdk-diagnostics-on").wallMs / by("fleet-sdk-diagnostics-on").resources).toFixed(2)} ms/resource`,
  ].join("\n");
}

const BUILD_DIR = ".bench-build";
const BUILD_ENTRY = `${BUILD_DIR}/index.js`;

/** How the program is started under Pulumi, as Pulumi.yaml's runtime options can say it. */
const RUNTIMES = {
  "ts-node (SDK default, type-checked)": { runtimeOptions: { typescript: true } },
  "tsx (Pulumi.yaml)": { runtimeOptions: { typescript: false, nodeargs: "--import tsx" } },
  "precompiled JavaScript": { runtimeOptions: { typescript: false }, entryPoint: BUILD_ENTRY },
} as const;

/**
 * Start-up through Pulumi's own entry point (`@pulumi/pulumi/cmd/run`, driven by the engine
 * stand-in of test/engine): milliseconds from spawning node to the program's first resource,
 * and to its exit, for a preview of each stack. Cold: an empty cache directory (TMPDIR, where
 * ts-node and tsx keep their transforms), as on a fresh CI runner or Deployments executor.
 * Warm: best of two runs on a cache filled by the run before.
 */
async function startup(): Promise<string> {
  const { runProgram } = await import("../test/engine/engine");
  const project = readProjectFile(ROOT);
  const built = buildJs();
  const scratch = mkdtempSync(join(tmpdir(), "homelab-bench-"));
  const rows: string[][] = [["runtime", "stack", "cold start/total ms", "warm start/total ms"]];
  const totals: Record<string, { cold: number; warm: number }> = {};
  try {
    for (const [name, r] of Object.entries(RUNTIMES)) {
      const warmCache = mkdtempSync(join(scratch, "warm-"));
      for (const stack of configuredStacks(ROOT)) {
        const run = async (cache: string) => {
          const e = await runProgram({
            root: ROOT,
            project,
            stack,
            config: planConfig(ROOT, stack, { assumeSecrets: true }),
            dryRun: true,
            stacks: Object.fromEntries(configuredStacks(ROOT).map((s) => [s, null])),
            runtimeOptions: r.runtimeOptions,
            ...("entryPoint" in r ? { entryPoint: r.entryPoint } : {}),
            env: { TMPDIR: cache },
          });
          if (e.errors.length) throw new Error(`${name} ${stack}: ${e.errors.join("\n")}`);
          return e;
        };
        const cold = await run(mkdtempSync(join(scratch, "cold-")));
        await run(warmCache);
        const warm = [await run(warmCache), await run(warmCache)].reduce((a, b) =>
          b.totalMs < a.totalMs ? b : a,
        );
        const t = (totals[name] ??= { cold: 0, warm: 0 });
        t.cold += cold.totalMs;
        t.warm += warm.totalMs;
        rows.push([
          name,
          stack,
          `${cold.startMs}/${cold.totalMs}`,
          `${warm.startMs}/${warm.totalMs}`,
        ]);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(join(ROOT, BUILD_DIR), { recursive: true, force: true });
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const table = rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd(),
  );
  const sums = Object.entries(totals).map(
    ([n, t]) =>
      `${n}: every stack, cold ${(t.cold / 1000).toFixed(1)} s, warm ${(t.warm / 1000).toFixed(1)} s` +
      (n.startsWith("precompiled")
        ? ` (+ ${(built / 1000).toFixed(1)} s for tsc to build it)`
        : ""),
  );
  return [
    "start-up of a preview through Pulumi's entry point (stand-in engine), per stack:",
    ...table,
    "",
    ...sums,
  ].join("\n");
}

/** Compiles the project to JavaScript for the precompiled case; returns milliseconds. */
function buildJs(): number {
  const start = performance.now();
  const r = spawnSync(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "-p", ".", "--noEmit", "false", "--outDir", BUILD_DIR],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
  copyFileSync(
    join(ROOT, "configs", "bootstrap.sh"),
    join(ROOT, BUILD_DIR, "configs", "bootstrap.sh"),
  );
  return performance.now() - start;
}

/** `npm run plan` as a user runs it, end to end: best of `runs` wall times. */
function planEndToEnd(runs: number): string {
  const times = Array.from({ length: runs }, () => {
    const start = performance.now();
    const r = spawnSync("npm", ["run", "-s", "plan", "--", "--assume-secrets"], {
      cwd: ROOT,
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`npm run plan failed:\n${r.stderr}`);
    return performance.now() - start;
  }).sort((a, b) => a - b);
  const check = times[0]! < 1500 ? "ok  " : "MISS";
  return `${check} npm run plan, the whole fleet, end to end: best ${times[0]!.toFixed(0)} ms, median ${times[Math.floor(runs / 2)]!.toFixed(0)} ms of ${runs} (target < 1500 ms)`;
}

if (require.main === module) {
  const i = process.argv.indexOf("--case");
  if (i >= 0) {
    runCase(process.argv[i + 1]!).then(
      (r) => process.stdout.write(JSON.stringify(r) + "\n", () => process.exit(0)),
      (e: unknown) => {
        process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`, () =>
          process.exit(1),
        );
      },
    );
  } else {
    // Best of N fresh processes per case: on a shared machine, the slower runs measure the
    // neighbours. `npm run bench -- --runs 5` for more.
    const r = process.argv.indexOf("--runs");
    const runs = r >= 0 ? Math.max(1, Number(process.argv[r + 1]) || 1) : 2;
    const results: Result[] = [];
    for (const c of CASES) {
      process.stderr.write(`bench: ${c} (${runs} run${runs === 1 ? "" : "s"})…\n`);
      const all = Array.from({ length: runs }, () => runInChild(c));
      results.push(all.reduce((best, x) => (x.wallMs < best.wallMs ? x : best)));
    }
    process.stdout.write(`best of ${runs} runs per case, each in a fresh process\n\n`);
    process.stdout.write(report(results) + "\n");
    process.stderr.write("bench: npm run plan end to end…\n");
    process.stdout.write(`${planEndToEnd(Math.max(3, runs))}\n\n`);
    process.stderr.write("bench: start-up through Pulumi's entry point…\n");
    startup().then(
      (text) => process.stdout.write(`${text}\n`),
      (e: unknown) => {
        process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = 1;
      },
    );
  }
}
