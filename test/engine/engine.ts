/**
 * A stand-in for the Pulumi engine: runs the program the way `pulumi preview` / `pulumi up`
 * starts it, and answers its gRPC calls.
 *
 * The program is launched exactly as the Node.js language host launches it
 * (github:pulumi/pulumi `sdk/nodejs/cmd/pulumi-language-nodejs/main.go`, `execRuntime` and
 * `constructArguments`): the `node` found on PATH runs `@pulumi/pulumi/cmd/run` with
 * `--monitor --engine --organization --project --root-directory --stack --pwd [--dry-run]
 * --parallel <entry>`, `runtime.options.nodeargs` before it, `PULUMI_NODEJS_TYPESCRIPT=true`
 * unless `typescript: false`, and the config in `PULUMI_CONFIG` / `PULUMI_CONFIG_SECRET_KEYS`
 * (built by lib/cli-config.ts as the CLI builds it). The entry is Pulumi.yaml's `main`, else
 * "." (the runtime then follows package.json `main`).
 *
 * It serves `pulumirpc.ResourceMonitor` and `pulumirpc.Engine` from the protos that ship in
 * @pulumi/pulumi. Answers:
 * - `SupportsFeature`: the real engine's list (`pkg/resource/deploy/source_eval.go`,
 *   `supportsFeatureID`).
 * - `RegisterResource`: a new stack. Preview: the inputs echoed, no id (unknown), a provider's
 *   id unknown (`providers.UnknownID`); computed outputs missing, which the SDK treats as
 *   unknown in a dry run (`runtime/resource.js`, `resolveOutputs`). Update: an id and the
 *   computed outputs of cli/evaluate.ts `computedState`, the same values the mock runtime gives.
 * - `ReadResource` of `pulumi:pulumi:StackReference` (`pkg/resource/deploy/builtins.go`,
 *   `readStackReference`): `{name, outputs, secretOutputNames}` of a recorded stack, empty for
 *   a stack never deployed; for a stack the backend does not know, the engine's error
 *   `unknown stack "<name>"` (`pkg/backend/backend.go:417`) as an error diagnostic, and the
 *   monitor shuts down (`resource monitor shut down while waiting on step's done channel`).
 * - `Invoke`: cli/evaluate.ts `mockInvoke`.
 * - `Engine.Log`: recorded with its severity.
 */
import * as grpc from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, join } from "node:path";
import {
  CapturedOptions,
  Evaluation,
  PeerOutputs,
  RegisteredResource,
  Secret,
  mockInvoke,
  computedState,
} from "../../cli/evaluate";
import { ProgramConfig, ProjectFile, pulumiConfigEnv } from "../../lib/cli-config";
import { byText } from "../../lib/order";

const sdkRequire = createRequire(require.resolve("@pulumi/pulumi/package.json"));
/* eslint-disable @typescript-eslint/no-require-imports */
const resproto = sdkRequire("./proto/resource_pb.js");
const resrpc = sdkRequire("./proto/resource_grpc_pb.js");
const engproto = sdkRequire("./proto/engine_pb.js");
const engrpc = sdkRequire("./proto/engine_grpc_pb.js");
const emptyproto = sdkRequire("google-protobuf/google/protobuf/empty_pb.js");
const structproto = sdkRequire("google-protobuf/google/protobuf/struct_pb.js");
/* eslint-enable @typescript-eslint/no-require-imports */

/** Special values of Pulumi's wire format (`sdk/nodejs/runtime/rpc.ts`). */
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** A value the engine does not know yet (preview). */
export class Unknown {
  toJSON(): string {
    return "[unknown]";
  }
}
/** A resource reference as it crossed the wire. */
export class ResourceRef {
  constructor(
    readonly urn: string,
    readonly id?: unknown,
  ) {}
}

const SEVERITIES = ["debug", "info", "warning", "error"] as const;
export interface LogEntry {
  severity: (typeof SEVERITIES)[number];
  message: string;
  urn: string;
}

/** What the backend knows of other stacks: recorded outputs, or `null` for never deployed. */
export type BackendStacks = Record<string, PeerOutputs[string] | null>;

export interface EngineRunOptions {
  /** The project directory (holds Pulumi.yaml). */
  root: string;
  project: ProjectFile;
  stack: string;
  config: ProgramConfig;
  /** `pulumi preview` (true) or `pulumi up` (false). */
  dryRun: boolean;
  /** Stacks of this project the backend has, by stack name; others are unknown. */
  stacks?: BackendStacks;
  /** @default "organization" (a self-managed backend) */
  organization?: string;
  /** Replaces `runtime.options` of the project file (start-up measurements). */
  runtimeOptions?: Record<string, unknown>;
  /** Replaces the entry point (start-up measurements). */
  entryPoint?: string;
  /** Extra environment of the program. */
  env?: Record<string, string>;
  /** @default 120000 */
  timeoutMs?: number;
}

export interface EngineRun {
  stack: string;
  /** The program's exit code (32: it already reported an actionable error). */
  exitCode: number | null;
  /** The language host's verdict (`execRuntime`): "" when the program succeeded. */
  hostError: string;
  /** Error diagnostics: the engine's, then the program's. A run failed if any. */
  errors: string[];
  logs: LogEntry[];
  /** Every registered or read resource, sorted by type and name (same shape as the mocks'). */
  resources: RegisteredResource[];
  /** The stack's outputs; secrets are `Secret`, unknown values `Unknown`. */
  outputs: Record<string, unknown>;
  /** Stack references read (full names). */
  references: string[];
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to the program's first resource, and to exit. */
  startMs: number;
  totalMs: number;
}

/** The `node` the language host would run: the first on PATH (`exec.LookPath`). */
export function nodeOnPath(path = process.env.PATH ?? ""): string {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "node");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error("could not find node on the $PATH");
}

/** Decodes a wire value: secrets → Secret, unknowns → Unknown, references → ResourceRef. */
export function decode(v: unknown): unknown {
  if (v === UNKNOWN) return new Unknown();
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    switch (o[SIG]) {
      case SECRET_SIG:
        return new Secret(decode(o.value));
      case OUTPUT_SIG: {
        const inner = "value" in o ? decode(o.value) : new Unknown();
        return o.secret ? new Secret(inner) : inner;
      }
      case RESOURCE_SIG:
        return new ResourceRef(String(o.urn), o.id === undefined ? undefined : decode(o.id));
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decode(x)]));
  }
  return v;
}

/** Encodes for the wire: the inverse of `decode` for what the engine sends back. */
function encode(v: unknown): unknown {
  if (v instanceof Secret) return { [SIG]: SECRET_SIG, value: encode(v.value) };
  if (v instanceof Unknown) return UNKNOWN;
  if (v instanceof ResourceRef)
    return { [SIG]: RESOURCE_SIG, urn: v.urn, ...(v.id === undefined ? {} : { id: encode(v.id) }) };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
}

const toStruct = (v: Record<string, unknown>) => structproto.Struct.fromJavaScript(encode(v));
const fromStruct = (s: { toJavaScript(): unknown } | undefined) =>
  (s ? decode(s.toJavaScript()) : {}) as Record<string, unknown>;

/** `resource.NewURN`: the parent's type chain, without the root stack's type. */
function urnOf(stack: string, project: string, parent: string, type: string, name: string): string {
  let qualified = type;
  if (parent) {
    const parentType = parent.split("::")[2]!;
    if (parentType !== "pulumi:pulumi:Stack") qualified = `${parentType}$${type}`;
  }
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

const nameOfUrn = (urn: string) => urn.split("::").slice(3).join("::");

/** Runs the program for one stack against the stand-in engine. */
export async function runProgram(o: EngineRunOptions): Promise<EngineRun> {
  const org = o.organization ?? "organization";
  const project = o.project.name;
  const logs: LogEntry[] = [];
  const engineErrors: string[] = [];
  const resources: RegisteredResource[] = [];
  const references = new Set<string>();
  let outputs: Record<string, unknown> = {};
  let rootUrn = "";
  let started = 0;
  let firstRegistration = 0;
  let shutDown = false;
  /** The program's own first resource: the root stack is registered before the program loads. */
  const mark = (type: string) =>
    type !== "pulumi:pulumi:Stack" && (firstRegistration ||= Date.now());

  const ok = <T>(cb: grpc.sendUnaryData<T>, v: T) => cb(null, v);
  const urns = new Set<string>();
  // `pulumi:disable-default-providers` (pkg/resource/deploy/default_providers.go): packages
  // whose resources and invokes must name a provider.
  const denied: string[] = (() => {
    const raw = o.config.config["pulumi:disable-default-providers"];
    try {
      return raw ? (JSON.parse(raw) as string[]) : [];
    } catch {
      return [];
    }
  })();
  const deniedDefault = (type: string, provider: string) =>
    !provider && (denied.includes("*") || denied.includes(type.split(":")[0]!));
  const fail = <T>(cb: grpc.sendUnaryData<T>, code: grpc.status, details: string) =>
    cb({ code, details, message: details, name: "Error", metadata: new grpc.Metadata() }, null);

  const options = (req: RegisterRequest): CapturedOptions => {
    const out: CapturedOptions = {};
    if (req.getProtect()) out.protect = true;
    if (req.getRetainondelete()) out.retainOnDelete = true;
    if (req.getDeletebeforereplacedefined()) out.deleteBeforeReplace = req.getDeletebeforereplace();
    if (req.getIgnorechangesList().length)
      out.ignoreChanges = [...req.getIgnorechangesList()].sort();
    if (req.getDependenciesList().length)
      out.dependsOn = req.getDependenciesList().map(nameOfUrn).sort();
    if (req.getParent()) out.parent = nameOfUrn(req.getParent());
    if (req.getAdditionalsecretoutputsList().length)
      out.additionalSecretOutputs = [...req.getAdditionalsecretoutputsList()].sort();
    if (req.getReplaceonchangesList().length)
      out.replaceOnChanges = [...req.getReplaceonchangesList()].sort();
    return out;
  };

  /**
   * A step that fails: the engine reports it (in a preview as "Preview failed: …",
   * pkg/engine/update.go:1552 and diag/errors.go:44) and shuts the monitor down.
   */
  const bail = (cb: grpc.sendUnaryData<unknown>, message: string, urn: string) => {
    const text = o.dryRun ? `Preview failed: ${message}` : message;
    engineErrors.push(text);
    logs.push({ severity: "error", message: text, urn });
    shutDown = true;
    fail(
      cb,
      grpc.status.UNAVAILABLE,
      "resource monitor shut down while waiting on step's done channel",
    );
  };

  const monitor = {
    supportsFeature(call: Call<{ getId(): string }>, cb: grpc.sendUnaryData<unknown>) {
      const supported = [
        "secrets",
        "resourceReferences",
        "outputValues",
        "aliasSpecs",
        "replacementTrigger",
        "deletedWith",
        "replaceWith",
        "transforms",
        "invokeTransforms",
        "parameterization",
        "resourceHooks",
        "errorHooks",
        "sendsOptionsToHooks",
      ];
      const res = new resproto.SupportsFeatureResponse();
      res.setHassupport(supported.includes(call.request.getId()));
      ok(cb, res);
    },
    registerResource(call: Call<RegisterRequest>, cb: grpc.sendUnaryData<unknown>) {
      mark(call.request.getType());
      if (shutDown) return fail(cb, grpc.status.UNAVAILABLE, "resource monitor shut down");
      const req = call.request;
      const type = req.getType();
      const name = req.getName();
      const custom = req.getCustom();
      const inputs = fromStruct(req.getObject());
      const urn = urnOf(o.stack, project, req.getParent(), type, name);
      // The step generator's refusals (step_generator.go), with diag/errors.go's texts.
      if (urns.has(urn))
        return bail(cb, `Duplicate resource URN '${urn}'; try giving it a unique name`, urn);
      urns.add(urn);
      if (custom && !type.startsWith("pulumi:providers:") && deniedDefault(type, req.getProvider()))
        return bail(
          cb,
          `Default provider for '${type.split(":")[0]}' disabled. '${urn}' must use an explicit provider.`,
          urn,
        );
      resources.push({
        type,
        name,
        inputs,
        ...(req.getProvider() ? { provider: req.getProvider() } : {}),
        custom,
        options: options(req),
      });
      const res = new resproto.RegisterResourceResponse();
      res.setUrn(urn);
      const isProvider = type.startsWith("pulumi:providers:");
      if (custom) {
        if (o.dryRun) {
          res.setId(isProvider ? UNKNOWN : "");
          res.setObject(toStruct(inputs));
        } else {
          res.setId(`${name}-id`);
          res.setObject(toStruct(computedState(type, name, inputs)));
        }
      } else {
        res.setObject(toStruct({}));
      }
      ok(cb, res);
    },
    registerResourceOutputs(call: Call<OutputsRequest>, cb: grpc.sendUnaryData<unknown>) {
      if (call.request.getUrn() === rootUrn) outputs = fromStruct(call.request.getOutputs());
      ok(cb, new emptyproto.Empty());
    },
    readResource(call: Call<ReadRequest>, cb: grpc.sendUnaryData<unknown>) {
      mark(call.request.getType());
      const req = call.request;
      const type = req.getType();
      const urn = urnOf(o.stack, project, req.getParent(), type, req.getName());
      const props = fromStruct(req.getProperties());
      resources.push({
        type,
        name: req.getName(),
        inputs: props,
        custom: true,
        options: req.getParent() ? { parent: nameOfUrn(req.getParent()) } : {},
      });
      if (type !== "pulumi:pulumi:StackReference") {
        return fail(cb, grpc.status.UNIMPLEMENTED, `the stand-in engine cannot read ${type}`);
      }
      const full = String(props.name);
      references.add(full);
      const parts = full.split("/");
      const known =
        parts.length === 3 && parts[0] === org && parts[1] === project
          ? (o.stacks ?? {})[parts[2]!]
          : undefined;
      // The read step fails: the engine reports it and cancels the deployment.
      if (known === undefined) return bail(cb, `unknown stack ${JSON.stringify(full)}`, urn);
      const secretNames = known?.secretOutputNames ?? [];
      const outs = Object.fromEntries(
        Object.entries(known?.outputs ?? {}).map(([k, v]) => [
          k,
          secretNames.includes(k) ? new Secret(v) : v,
        ]),
      );
      const res = new resproto.ReadResourceResponse();
      res.setUrn(urn);
      res.setProperties(toStruct({ name: full, outputs: outs, secretOutputNames: secretNames }));
      ok(cb, res);
    },
    invoke(call: Call<InvokeRequest>, cb: grpc.sendUnaryData<unknown>) {
      const tok = call.request.getTok();
      // source_eval.go getProviderFromSource: the invoke itself fails with this text.
      if (deniedDefault(tok, call.request.getProvider()))
        return fail(
          cb,
          grpc.status.UNKNOWN,
          `Default provider for '${tok.split(":")[0]}' disabled. '${tok}' must use an explicit provider.`,
        );
      const res = new resproto.ResourceInvokeResponse();
      res.setReturn(
        toStruct(mockInvoke(call.request.getTok(), fromStruct(call.request.getArgs()))),
      );
      ok(cb, res);
    },
    registerPackage(_call: Call<unknown>, cb: grpc.sendUnaryData<unknown>) {
      const res = new resproto.RegisterPackageResponse();
      res.setRef("package-ref");
      ok(cb, res);
    },
    signalAndWaitForShutdown(_call: Call<unknown>, cb: grpc.sendUnaryData<unknown>) {
      ok(cb, new emptyproto.Empty());
    },
  };
  const engine = {
    log(call: Call<LogReq>, cb: grpc.sendUnaryData<unknown>) {
      const r = call.request;
      logs.push({
        severity: SEVERITIES[r.getSeverity()] ?? "info",
        message: r.getMessage(),
        urn: r.getUrn(),
      });
      ok(cb, new emptyproto.Empty());
    },
    getRootResource(_call: Call<unknown>, cb: grpc.sendUnaryData<unknown>) {
      const res = new engproto.GetRootResourceResponse();
      res.setUrn(rootUrn);
      ok(cb, res);
    },
    setRootResource(call: Call<{ getUrn(): string }>, cb: grpc.sendUnaryData<unknown>) {
      rootUrn = call.request.getUrn();
      ok(cb, new engproto.SetRootResourceResponse());
    },
  };

  const server = new grpc.Server();
  server.addService(resrpc.ResourceMonitorService, monitor as grpc.UntypedServiceImplementation);
  server.addService(engrpc.EngineService, engine as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? rej(e) : res(p),
    ),
  );
  const address = `127.0.0.1:${port}`;
  try {
    const runtimeOptions = o.runtimeOptions ?? o.project.runtime.options;
    const nodeargs =
      typeof runtimeOptions.nodeargs === "string" ? shellSplit(runtimeOptions.nodeargs) : [];
    const args = [
      ...nodeargs,
      sdkRequire.resolve("./cmd/run/index.js"),
      ...["--monitor", address, "--engine", address],
      ...["--organization", org, "--project", project, "--root-directory", o.root],
      ...["--stack", o.stack, "--pwd", o.root],
      ...(o.dryRun ? ["--dry-run"] : []),
      ...["--parallel", "16"],
      o.entryPoint ?? o.project.main ?? ".",
    ];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      // The test runner's own variables are not the user's environment.
      if (v !== undefined && !/^(VITEST|NODE_OPTIONS$|TINYPOOL)/.test(k)) env[k] = v;
    }
    Object.assign(env, pulumiConfigEnv(o.config), o.env ?? {});
    if (runtimeOptions.typescript !== false) env.PULUMI_NODEJS_TYPESCRIPT = "true";
    if (typeof runtimeOptions.tsconfig === "string")
      env.PULUMI_NODEJS_TSCONFIG_PATH = runtimeOptions.tsconfig;

    started = Date.now();
    const child = spawn(nodeOnPath(env.PATH), args, { cwd: o.root, env, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timeout = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 120_000);
    const exitCode = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    clearTimeout(timeout);
    const ended = Date.now();
    const hostError =
      exitCode === 0 || exitCode === 32
        ? ""
        : `Program exited with non-zero exit code: ${exitCode}`;
    const programErrors = logs
      .filter((l) => l.severity === "error" && !engineErrors.includes(l.message))
      .map((l) => l.message);
    return {
      stack: o.stack,
      exitCode,
      hostError,
      errors: [...engineErrors, ...programErrors, ...(hostError ? [hostError] : [])],
      logs,
      resources: resources.sort((a, b) => byText(`${a.type}::${a.name}`, `${b.type}::${b.name}`)),
      outputs,
      references: [...references].sort(),
      stdout,
      stderr,
      startMs: (firstRegistration || ended) - started,
      totalMs: ended - started,
    };
  } finally {
    server.forceShutdown();
  }
}

/** `shlex.Split` for the simple quoting Pulumi.yaml's `nodeargs` uses. */
function shellSplit(s: string): string[] {
  return [...s.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

interface Call<T> {
  request: T;
}
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getObject(): { toJavaScript(): unknown } | undefined;
  getProvider(): string;
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getDeletebeforereplace(): boolean;
  getDeletebeforereplacedefined(): boolean;
  getIgnorechangesList(): string[];
  getDependenciesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getReplaceonchangesList(): string[];
}
interface ReadRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProperties(): { toJavaScript(): unknown } | undefined;
}
interface OutputsRequest {
  getUrn(): string;
  getOutputs(): { toJavaScript(): unknown } | undefined;
}
interface InvokeRequest {
  getTok(): string;
  getProvider(): string;
  getArgs(): { toJavaScript(): unknown } | undefined;
}
interface LogReq {
  getSeverity(): number;
  getMessage(): string;
  getUrn(): string;
}

/** A run in the shape of a mock evaluation (cli/evaluate.ts), to compare the two or drive a fleet. */
export function asEvaluation(run: EngineRun): Evaluation {
  return {
    stack: run.stack,
    resources: run.resources,
    outputs: run.outputs,
    warnings: run.logs.filter((l) => l.severity === "warning").map((l) => l.message),
    references: run.references,
  };
}

/**
 * What a user sees of a run: the program's stdout and stderr and every log line above debug.
 * Debug lines appear only with `pulumi --debug`, and the SDK's own (`log.debug` of each RPC in
 * runtime/resource.js) print whole responses, secret values included.
 */
export function shown(run: EngineRun): string {
  const logs = run.logs.filter((l) => l.severity !== "debug").map((l) => l.message);
  return [run.stdout, run.stderr, ...logs].join("\n");
}
