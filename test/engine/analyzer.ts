/**
 * Runs a Node.js policy pack the way `pulumi preview --policy-pack DIR` does, and talks to it
 * over gRPC as the engine does.
 *
 * Start-up (github:pulumi/pulumi `sdk/nodejs/cmd/pulumi-language-nodejs/main.go`, `RunPlugin`
 * for kind=analyzer): the `node` on PATH runs `@pulumi/pulumi/cmd/run-policy-pack` (resolved
 * from the pack directory, `locateModule`) with the engine address and the pack directory as
 * its last arguments, in the pack directory, with the stack's configuration in the environment:
 * `PULUMI_CONFIG` (JSON), `PULUMI_NODEJS_STACK`, `_PROJECT`, `_ORGANIZATION`, `_DRY_RUN`. The
 * pack prints its port on stdout (@pulumi/policy server.js, `serve`).
 *
 * AnalyzeStack (pkg/resource/deploy/step_generator.go, `AnalyzeResources`, and
 * pkg/resource/plugin/analyzer_plugin.go, `AnalyzeStack`): every resource of the stack with its
 * **outputs** marshalled with secrets and unknowns kept, its options (protect, ignoreChanges,
 * deleteBeforeReplace with its "defined" flag, additionalSecretOutputs, parent; no
 * retainOnDelete: `AnalyzerResourceOptions` has none), parent and dependencies as URNs, and its
 * provider.
 */
import * as grpc from "@grpc/grpc-js";
import { spawn, ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { RegisteredResource, Secret, computedState } from "../../cli/evaluate";
import { ProgramConfig } from "../../lib/cli-config";
import { UNKNOWN, Unknown, nodeOnPath } from "./engine";

const sdkRequire = createRequire(require.resolve("@pulumi/pulumi/package.json"));
/* eslint-disable @typescript-eslint/no-require-imports */
const anproto = sdkRequire("./proto/analyzer_pb.js");
const anrpc = sdkRequire("./proto/analyzer_grpc_pb.js");
const emptyproto = sdkRequire("google-protobuf/google/protobuf/empty_pb.js");
const structproto = sdkRequire("google-protobuf/google/protobuf/struct_pb.js");
/* eslint-enable @typescript-eslint/no-require-imports */

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** One diagnostic of AnalyzeStack. */
export interface PolicyDiagnostic {
  policy: string;
  level: "advisory" | "mandatory";
  message: string;
  urn: string;
}

export interface AnalyzeResult {
  diagnostics: PolicyDiagnostic[];
  notApplicable: { policy: string; reason: string }[];
}

export interface PolicyPackProcess {
  /** Policy names and enforcement levels (GetAnalyzerInfo). */
  info(): Promise<{ name: string; policies: { name: string; level: string }[] }>;
  analyzeStack(resources: RegisteredResource[], stack: string): Promise<AnalyzeResult>;
  stop(): void;
  stderr(): string;
}

/** Engine marshalling of a property value (secrets and unknowns kept). */
function encode(v: unknown): unknown {
  if (v instanceof Secret) return { [SIG]: SECRET_SIG, value: encode(v.value) };
  if (v instanceof Unknown) return UNKNOWN;
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, encode(x)]),
    );
  return v;
}

const hasUnknown = (v: unknown): boolean =>
  v instanceof Unknown ||
  (v instanceof Secret && hasUnknown(v.value)) ||
  (Array.isArray(v)
    ? v.some(hasUnknown)
    : !!v && typeof v === "object" && Object.values(v).some(hasUnknown));

/**
 * URNs as `resource.NewURN` builds them: the parent's type chain, without the root stack's.
 * Resources are found by logical name (`options.parent`), as cli/evaluate.ts records them.
 */
function urns(resources: RegisteredResource[], stack: string, project: string): string[] {
  const byName = new Map<string, RegisteredResource[]>();
  for (const r of resources) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  const chain = (r: RegisteredResource, seen = 0): string => {
    const parent = r.options.parent
      ? (byName.get(r.options.parent) ?? []).find((p) => !p.custom)
      : undefined;
    if (!parent || parent.type === "pulumi:pulumi:Stack" || seen > 50) return r.type;
    return `${chain(parent, seen + 1)}$${r.type}`;
  };
  return resources.map((r) => `urn:pulumi:${stack}::${project}::${chain(r)}::${r.name}`);
}

/**
 * The resources as the engine sends them to AnalyzeStack after a preview (`dryRun`: outputs as
 * the stand-in engine answered, unknowns kept) or an update (the computed outputs of
 * cli/evaluate.ts `computedState`, which the mock runtime and the stand-in engine both give).
 */
export function analyzerResources(
  resources: RegisteredResource[],
  stack: string,
  opts: { project?: string; dryRun?: boolean } = {},
): unknown[] {
  const project = opts.project ?? "homelab";
  const all = urns(resources, stack, project);
  const urnOfName = (name: string) => all[resources.findIndex((r) => r.name === name)];
  return resources.map((r, i) => {
    const res = new anproto.AnalyzerResource();
    res.setUrn(all[i]!);
    res.setType(r.type);
    res.setName(r.name);
    const outputs =
      !r.custom || opts.dryRun || hasUnknown(r.inputs)
        ? r.inputs
        : computedState(r.type, r.name, r.inputs);
    res.setProperties(structproto.Struct.fromJavaScript(encode(outputs)));
    const o = new anproto.AnalyzerResourceOptions();
    o.setProtect(r.options.protect === true);
    o.setIgnorechangesList(r.options.ignoreChanges ?? []);
    if (r.options.deleteBeforeReplace !== undefined) {
      o.setDeletebeforereplace(r.options.deleteBeforeReplace);
      o.setDeletebeforereplacedefined(true);
    }
    o.setAdditionalsecretoutputsList(r.options.additionalSecretOutputs ?? []);
    const parent = r.options.parent ? urnOfName(r.options.parent) : undefined;
    if (parent) {
      o.setParent(parent);
      res.setParent(parent);
    }
    res.setOptions(o);
    res.setDependenciesList(
      (r.options.dependsOn ?? []).flatMap((d) => {
        const u = urnOfName(d);
        return u ? [u] : [];
      }),
    );
    if (r.provider) {
      const urn = r.provider.slice(0, r.provider.lastIndexOf("::"));
      const p = new anproto.AnalyzerProviderResource();
      p.setUrn(urn);
      p.setType(urn.split("::")[2] ?? "");
      p.setName(urn.split("::").pop() ?? "");
      p.setProperties(structproto.Struct.fromJavaScript({}));
      res.setProvider(p);
    }
    return res;
  });
}

/** Starts the pack in `dir` as the Node.js language host does, for `stack` with `config`. */
export async function startPolicyPack(o: {
  dir: string;
  stack: string;
  config?: ProgramConfig;
  project?: string;
  organization?: string;
  dryRun?: boolean;
  timeoutMs?: number;
}): Promise<PolicyPackProcess> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(VITEST|NODE_OPTIONS$|TINYPOOL)/.test(k)) env[k] = v;
  env.PULUMI_NODEJS_ORGANIZATION = o.organization ?? "organization";
  env.PULUMI_NODEJS_PROJECT = o.project ?? "homelab";
  env.PULUMI_NODEJS_STACK = o.stack;
  env.PULUMI_NODEJS_DRY_RUN = String(o.dryRun ?? true);
  if (o.config) env.PULUMI_CONFIG = JSON.stringify(o.config.config);
  const runPath = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [o.dir] });
  // The engine address is not dialled by a Node.js pack; the host passes its own.
  const child: ChildProcess = spawn(nodeOnPath(env.PATH), [runPath, "127.0.0.1:1", o.dir], {
    cwd: o.dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`policy pack did not print its port in time:\n${stderr}`));
    }, o.timeoutMs ?? 120_000);
    child.stdout!.on("data", (d) => {
      stdout += d;
      const m = /^(\d+)\s*$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`policy pack exited with ${code} before serving:\n${stderr}`));
    });
  });
  const client = new anrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 400 * 1024 * 1024,
  });
  const call = <T>(method: string, req: unknown) =>
    new Promise<T>((resolve, reject) =>
      client[method](req, (e: Error | null, r: T) => (e ? reject(e) : resolve(r))),
    );
  const configure = new anproto.AnalyzerStackConfigureRequest();
  configure.setStack(o.stack);
  configure.setProject(o.project ?? "homelab");
  configure.setOrganization(o.organization ?? "organization");
  configure.setDryRun(o.dryRun ?? true);
  await call("configureStack", configure);
  return {
    async info() {
      const r = await call<{
        getName(): string;
        getPoliciesList(): { getName(): string; getEnforcementlevel(): number }[];
      }>("getAnalyzerInfo", new emptyproto.Empty());
      return {
        name: r.getName(),
        policies: r.getPoliciesList().map((p) => ({
          name: p.getName(),
          level: p.getEnforcementlevel() === 1 ? "mandatory" : "advisory",
        })),
      };
    },
    async analyzeStack(resources, stack) {
      const req = new anproto.AnalyzeStackRequest();
      req.setResourcesList(analyzerResources(resources, stack, { dryRun: o.dryRun }));
      const r = await call<{
        getDiagnosticsList(): {
          getPolicyname(): string;
          getEnforcementlevel(): number;
          getMessage(): string;
          getUrn(): string;
        }[];
        getNotApplicableList(): { getPolicyName(): string; getReason(): string }[];
      }>("analyzeStack", req);
      return {
        diagnostics: r.getDiagnosticsList().map((d) => ({
          policy: d.getPolicyname(),
          level: d.getEnforcementlevel() === 1 ? "mandatory" : "advisory",
          message: d.getMessage(),
          urn: d.getUrn(),
        })),
        notApplicable: r
          .getNotApplicableList()
          .map((n) => ({ policy: n.getPolicyName(), reason: n.getReason() })),
      };
    },
    stop() {
      client.close();
      child.kill("SIGTERM");
    },
    stderr: () => stderr,
  };
}
