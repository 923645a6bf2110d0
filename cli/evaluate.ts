/**
 * Evaluates the real program for one stack under Pulumi's mock runtime: no CLI, no backend, no
 * network. Records every registered resource with its inputs, its provider and the resource
 * options that decide safety (captured with a stack transformation, since mocks do not see
 * options), and the stack outputs. Used by the tests and by `npm run plan`.
 */
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { createServerStack, loadStackConfig, readRawConfig } from "../lib/program";
import { takeWarnings } from "../lib/warnings";
import type { ProgramConfig } from "../lib/cli-config";
import type { StackFile } from "../stacks/types";
import { byText } from "../lib/order";

/** The project name (Pulumi.yaml `name`). */
export const PROJECT = "homelab";
/** Org of stack references on a self-managed backend. */
export const ORG = "organization";

/** A secret value as it reached a resource input or an output. */
export class Secret {
  constructor(readonly value: unknown) {}
  toJSON(): string {
    return "[secret]";
  }
}

/** Resource options that decide safety, as the program set them. */
export interface CapturedOptions {
  protect?: boolean;
  retainOnDelete?: boolean;
  deleteBeforeReplace?: boolean;
  ignoreChanges?: string[];
  /** Logical names of explicit dependencies. */
  dependsOn?: string[];
  /** Logical name of the parent resource. */
  parent?: string;
  /** Outputs the engine stores as secrets. */
  additionalSecretOutputs?: string[];
  /** Input paths whose change replaces the resource. */
  replaceOnChanges?: string[];
}

/** One registered resource. */
export interface RegisteredResource {
  type: string;
  name: string;
  /** Inputs as registered; secrets are `Secret` instances. */
  inputs: Record<string, unknown>;
  /** Provider reference (`urn::id`) for custom resources, when one was given. */
  provider?: string;
  custom: boolean;
  options: CapturedOptions;
}

/** Outputs of other stacks, by stack name, as a StackReference would return them. */
export type PeerOutputs = Record<
  string,
  { outputs: Record<string, unknown>; secretOutputNames: string[] }
>;

/** The result of evaluating one stack. */
export interface Evaluation {
  stack: string;
  resources: RegisteredResource[];
  /** Stack outputs; secret ones (or secret parts) are `Secret` instances. */
  outputs: Record<string, unknown>;
  /** Warnings the program logged (missing peers, missing outputs). */
  warnings: string[];
  /** Stacks it referenced. */
  references: string[];
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

function hash(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex");
}

/** Secret envelopes from the mock monitor become `Secret`; everything else is copied. */
function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] === SECRET_SIG_VALUE) return new Secret(unwrapSecrets(o.value));
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/**
 * Deterministic values for what providers would compute; secret outputs are `Secret`. Shared
 * by the mock runtime (`mockState`) and the engine stand-in (test/engine), so both answer alike.
 */
export function computedState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword": {
      const length = typeof inputs.length === "number" ? inputs.length : 16;
      const lower = inputs.upper === false;
      let result = "";
      for (let i = 0; result.length < length; i++) result += hash("pw", name, String(i));
      result = result.slice(0, length);
      if (!lower)
        result = result.replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
      return {
        ...inputs,
        result: new Secret(result),
        bcryptHash: new Secret(`$2a$10$${hash("bcrypt", name).slice(0, 53)}`),
      };
    }
    case "random:index/randomBytes:RandomBytes": {
      const bytes = Buffer.from(hash("bytes", name), "hex").subarray(
        0,
        Number(inputs.length ?? 32),
      );
      return {
        ...inputs,
        base64: new Secret(bytes.toString("base64")),
        hex: new Secret(bytes.toString("hex")),
      };
    }
    case "docker:index/remoteImage:RemoteImage":
      return {
        ...inputs,
        imageId: `sha256:${hash("image", String(inputs.name))}`,
        repoDigest: `${String(inputs.name).replace(/:[^:/]+$/, "")}@sha256:${hash("digest", String(inputs.name))}`,
      };
    default:
      return inputs;
  }
}

/** What a provider's invoke returns; the only invoke the program makes is Docker's registry lookup. */
export function mockInvoke(
  token: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  if (token === "docker:index/getRegistryImage:getRegistryImage") {
    const name = String(inputs.name);
    return { name, sha256Digest: `sha256:${hash("registry", name)}` };
  }
  throw new Error(`unmocked invoke ${token}`);
}

/** `computedState` in the form a mock's `newResource` returns (secrets as SDK secret outputs). */
export function mockState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  return sdkSecrets(computedState(type, name, inputs)) as Record<string, unknown>;
}

/** `Secret` markers become the SDK's secret outputs. */
function sdkSecrets(v: unknown): unknown {
  if (v instanceof Secret) return pulumi.secret(sdkSecrets(v.value));
  if (Array.isArray(v)) return v.map(sdkSecrets);
  if (v && typeof v === "object" && !pulumi.Output.isInstance(v))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sdkSecrets(x)]));
  return v;
}

/**
 * Evaluates the program for `stack` with `config` as the CLI hands it over (lib/cli-config.ts)
 * and the peers' outputs.
 */
export async function evaluateStack(
  stack: string,
  config: ProgramConfig,
  opts: {
    peers?: PeerOutputs;
    /** Keep the SDK's "warning: [runtime] …" lines off stderr; they are returned in `warnings`. */
    quiet?: boolean;
    /** Evaluate this declaration instead of the stack's file in stacks/index.ts (benchmark). */
    declare?: StackFile;
  } = {},
): Promise<Evaluation> {
  const warnToConsole = console.warn;
  if (opts.quiet) {
    console.warn = (...args: unknown[]) => {
      if (!String(args[0]).startsWith("warning: [runtime] ")) warnToConsole(...args);
    };
  }
  try {
    return await evaluate(stack, config, opts);
  } finally {
    console.warn = warnToConsole;
  }
}

async function evaluate(
  stack: string,
  config: ProgramConfig,
  opts: { peers?: PeerOutputs; declare?: StackFile },
): Promise<Evaluation> {
  const recorded: RegisteredResource[] = [];
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const options = new Map<string, CapturedOptions>();
  const envSecrets = new Map<string, Promise<boolean[]>>();
  const references: string[] = [];
  const peers = opts.peers ?? {};
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        const key = `${args.type}::${args.name}`;
        if (seen.has(key)) duplicates.push(key);
        seen.add(key);
        recorded.push({
          type: args.type,
          name: args.name,
          inputs: unwrapSecrets(inputs) as Record<string, unknown>,
          provider: args.provider,
          custom: args.custom ?? true,
          options: {},
        });
        if (args.type === "pulumi:pulumi:StackReference") {
          const full = String(inputs.name);
          references.push(full);
          const name = full.split("/").pop()!;
          const peer = Object.hasOwn(peers, name) ? peers[name] : undefined;
          return {
            id: full,
            state: {
              name: full,
              outputs: peer?.outputs ?? {},
              secretOutputNames: peer?.secretOutputNames ?? [],
            },
          };
        }
        return {
          id: args.custom === false ? undefined : `${args.name}-id`,
          state: mockState(args.type, args.name, inputs),
        };
      },
      call: (args) => mockInvoke(args.token, args.inputs as Record<string, unknown>),
    },
    PROJECT,
    stack,
    false,
    ORG,
  );
  pulumi.runtime.setAllConfig(config.config, config.secretKeys);
  takeWarnings();
  // Check the config before the stack exists: a ConfigError then registers nothing and leaves
  // no half-built stack (whose pending outputs would reject unhandled).
  loadStackConfig(stack, readRawConfig(PROJECT), opts.declare);
  let program: Record<string, unknown> = {};
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((t) => {
      options.set(`${t.type}::${t.name}`, captureOptions(t.opts));
      const envs = (t.props as { envs?: unknown }).envs;
      if (Array.isArray(envs))
        envSecrets.set(`${t.type}::${t.name}`, Promise.all(envs.map(elementIsSecret)));
      return undefined;
    });
    program = createServerStack(stack, PROJECT, opts.declare);
    // Outputs are resolved below, not here: the stack would flatten `Secret` markers.
    return {};
  });
  const outputs = await resolveOutputs(program);
  await (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs?.();
  if (duplicates.length) throw new DuplicateResourceError(stack, duplicates);
  for (const r of recorded) r.options = options.get(`${r.type}::${r.name}`) ?? {};
  for (const r of recorded) {
    const flags = await envSecrets.get(`${r.type}::${r.name}`);
    if (flags) r.inputs.envs = perElementSecrets(r.inputs.envs, flags);
  }
  return {
    stack,
    resources: recorded.sort((a, b) => byText(`${a.type}::${a.name}`, `${b.type}::${b.name}`)),
    outputs,
    warnings: takeWarnings(),
    references: [...new Set(references)].sort(),
  };
}

/** Whether one element of a list input is a secret Output. */
async function elementIsSecret(v: unknown): Promise<boolean> {
  return pulumi.Output.isInstance(v) ? pulumi.isSecret(v as pulumi.Output<unknown>) : false;
}

/**
 * A list input with its secrets where the program put them. The mock runtime marks a whole list
 * secret when one element is (it does not support output values: `setMocks` sets
 * supportsOutputValues false, @pulumi/pulumi runtime/mocks.js), while the engine receives each
 * element as it was (test/engine.test.ts), so a plain TZ next to a secret password would read
 * as a secret in the plan and in the guardrails.
 */
function perElementSecrets(list: unknown, flags: boolean[]): unknown {
  if (!(list instanceof Secret) || !Array.isArray(list.value)) return list;
  const values = list.value as unknown[];
  if (values.length !== flags.length) return list;
  return values.map((v, i) => (flags[i] ? new Secret(v) : v));
}

/**
 * Two resources registered with one type and name. Pulumi's engine refuses the second
 * registration of a URN ("Duplicate resource URN '…'; try giving it a unique name",
 * github:pulumi/pulumi sdk/go/common/diag/errors.go:33; test/engine/engine.ts does too), and the mock runtime accepts it silently, so the
 * evaluation refuses it itself: one of the two would otherwise shadow the other in every check.
 */
export class DuplicateResourceError extends Error {
  constructor(
    readonly stackName: string,
    readonly keys: string[],
  ) {
    super(
      `stack "${stackName}" registers ${keys.length === 1 ? "a resource" : "resources"} twice: ` +
        keys.map((k) => k.replace("::", " named ")).join("; ") +
        ". Two declarations produce the same name: rename one.",
    );
    this.name = "DuplicateResourceError";
  }
}

function captureOptions(
  o: pulumi.ResourceOptions & { deleteBeforeReplace?: boolean; additionalSecretOutputs?: string[] },
): CapturedOptions {
  const deps =
    o.dependsOn === undefined ? [] : Array.isArray(o.dependsOn) ? o.dependsOn : [o.dependsOn];
  const names = deps.flatMap((d) => (d instanceof pulumi.Resource ? [resourceName(d)] : []));
  const out: CapturedOptions = {};
  if (o.protect !== undefined) out.protect = o.protect;
  if (o.retainOnDelete !== undefined) out.retainOnDelete = o.retainOnDelete;
  if (o.deleteBeforeReplace !== undefined) out.deleteBeforeReplace = o.deleteBeforeReplace;
  if (o.ignoreChanges !== undefined) out.ignoreChanges = o.ignoreChanges;
  if (names.length) out.dependsOn = names.sort();
  if (o.parent) out.parent = resourceName(o.parent);
  if (o.additionalSecretOutputs?.length)
    out.additionalSecretOutputs = [...o.additionalSecretOutputs].sort();
  if (o.replaceOnChanges?.length) out.replaceOnChanges = [...o.replaceOnChanges].sort();
  return out;
}

/** The logical name a resource was constructed with (kept by the SDK as `__name`). */
function resourceName(r: pulumi.Resource): string {
  return String((r as unknown as { __name?: string }).__name ?? "?");
}

/** Resolves every output deeply; secret values become `Secret`. */
async function resolveOutputs(out: Record<string, unknown>): Promise<Record<string, unknown>> {
  const entries = await Promise.all(
    Object.entries(out).map(async ([k, v]) => [k, await resolveDeep(v)] as const),
  );
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined));
}

async function resolveDeep(v: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(v)) {
    const o = v as pulumi.Output<unknown> & { promise(): Promise<unknown> };
    const [value, secret] = await Promise.all([o.promise(), pulumi.isSecret(o)]);
    const inner = await resolveDeep(value);
    return secret ? new Secret(inner) : inner;
  }
  if (Array.isArray(v)) return Promise.all(v.map(resolveDeep));
  if (v && typeof v === "object" && !(v instanceof pulumi.Resource)) {
    const entries = await Promise.all(
      Object.entries(v).map(async ([k, x]) => [k, await resolveDeep(x)] as const),
    );
    return Object.fromEntries(entries);
  }
  return v;
}

/** Removes `Secret` wrappers (tests compare values). */
export function reveal(v: unknown): unknown {
  if (v instanceof Secret) return reveal(v.value);
  if (Array.isArray(v)) return v.map(reveal);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
  return v;
}

/** Outputs of an evaluation in the form a StackReference to it returns. */
export function asPeerOutputs(e: Evaluation): PeerOutputs[string] {
  const secretOutputNames: string[] = [];
  const outputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.outputs)) {
    if (containsSecret(v)) secretOutputNames.push(k);
    outputs[k] = reveal(v);
  }
  return { outputs, secretOutputNames: secretOutputNames.sort() };
}

export function containsSecret(v: unknown): boolean {
  if (v instanceof Secret) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (v && typeof v === "object") return Object.values(v).some(containsSecret);
  return false;
}
