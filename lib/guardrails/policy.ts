/**
 * The guardrails as a Pulumi policy pack (policy/): the same checks, run by the engine on the
 * resources of a real `pulumi preview` / `pulumi up`, where a mandatory violation fails the
 * operation. This module turns what a stack validation receives (@pulumi/policy's
 * `PolicyResource`) into the `Evaluation` the checks read, and says, per check, what the policy
 * engine does not give it.
 *
 * What a stack validation gets (github:pulumi/pulumi, pkg/resource/deploy/step_generator.go,
 * `AnalyzeResources`; proto/pulumi/analyzer.proto, `AnalyzerResource`):
 * - `props` are the resource's final **outputs** (for the Docker and random providers: the
 *   inputs plus computed fields), not its inputs. In a preview, what is not known yet (a new
 *   image's ID, a new password) is unknown, and @pulumi/policy throws on reading it: the policy
 *   is then reported as advisory "can't run … during preview" (server.js, `UnknownValueError`).
 * - Secrets arrive unwrapped: @pulumi/policy deserializes stack resources with
 *   `deserializeProperties(props, false)` (server.js, `makeAnalyzeStackRpcFun`), so a policy
 *   cannot tell a secret from plain text.
 * - Options: protect, ignoreChanges, deleteBeforeReplace (when set), additionalSecretOutputs,
 *   aliases, customTimeouts, parent; plus `dependencies` (URNs). **No retainOnDelete** and no
 *   replaceOnChanges (`AnalyzerResourceOptions`).
 * - One stack: none of the peers' resources.
 * - Config: the Node.js language host hands the stack's config to a policy pack as
 *   `PULUMI_CONFIG` (sdk/nodejs/cmd/pulumi-language-nodejs/main.go, `RunPlugin`), decrypted,
 *   without the list of secret keys.
 */
import type { CapturedOptions, Evaluation, RegisteredResource } from "../../cli/evaluate";
import { SECRET_KEYS } from "../config-keys";
import { GUARDRAILS, intentFromConfig } from "./index";
import { TYPES } from "./resources";
import type { Finding, GuardrailId, StackIntent } from "./resources";

/** The part of @pulumi/policy's `PolicyResource` the adapter reads (policy.d.ts). */
export interface PolicyResourceLike {
  type: string;
  name: string;
  urn: string;
  props: Record<string, unknown>;
  opts: {
    protect?: boolean;
    deleteBeforeReplace?: boolean;
    parent?: string;
    ignoreChanges?: string[];
    additionalSecretOutputs?: string[];
  };
  provider?: { urn: string };
  parent?: { name: string };
  dependencies?: { name: string; type?: string; props?: Record<string, unknown> }[];
}

/** What a check needs that the policy engine does not give it. */
export type PolicyLimit =
  /** Nothing: the check runs as in the tests and the plan. */
  | { kind: "full" }
  /** Other stacks' resources: the policy sees one stack. */
  | { kind: "fleet" }
  /** Which values are secrets: @pulumi/policy unwraps them. */
  | { kind: "secrets" }
  /** The stack config (the declared intent), read from PULUMI_CONFIG. */
  | { kind: "intent" }
  /** `retainOnDelete`, which the engine does not send: evaluated both ways, see `policyVerdict`. */
  | { kind: "retain-on-delete" };

/**
 * Every guardrail with what the policy engine lacks for it. A `Record`: a new check does not
 * compile until someone decides how the pack runs it.
 */
export const POLICY_LIMITS: Record<GuardrailId, PolicyLimit> = {
  "data-volume-retained": { kind: "retain-on-delete" },
  "delete-before-replace": { kind: "full" },
  "docker-socket": { kind: "full" },
  "routed-tls-headers": { kind: "full" },
  "admin-auth": { kind: "intent" },
  "backed-up": { kind: "full" },
  "consistent-capture": { kind: "full" },
  replicated: { kind: "fleet" },
  monitored: { kind: "fleet" },
  heartbeat: { kind: "full" },
  // The writer's repositories drilled on another server: that server's resources.
  "drilled-elsewhere": { kind: "fleet" },
  // The peers' passwords to look for come from the peers' stacks.
  "keyless-storage": { kind: "fleet" },
  "backup-isolation": { kind: "full" },
  "no-latest": { kind: "full" },
  "restart-and-logs": { kind: "full" },
  "unique-host-ports": { kind: "full" },
  // Hosts routed by two servers: the other servers' routers.
  "unique-hosts": { kind: "fleet" },
  "no-plaintext-secret": { kind: "secrets" },
};

/** Why a check (or part of it) cannot be decided by the policy pack, and where it is decided. */
export const NOT_EVALUATED: Record<Exclude<PolicyLimit["kind"], "full" | "intent">, string> = {
  fleet:
    "not evaluated by the policy pack: it needs the other servers' resources and a policy sees one stack; `npm run plan -- --strict` checks it over the whole fleet (the workflows run it before every preview and up)",
  secrets:
    "not evaluated by the policy pack: @pulumi/policy hands stack policies every secret unwrapped, so a secret cannot be told from plain text; `npm run plan -- --strict` checks it (the workflows run it before every preview and up)",
  "retain-on-delete":
    "cannot be verified by the policy pack: the engine does not send retainOnDelete to policies (analyzer.proto AnalyzerResourceOptions); `npm run plan -- --strict` checks it (the workflows run it before every preview and up)",
};

/** `urn:pulumi:<stack>::<project>::<type>::<name>` → stack. */
export function stackOfUrn(urn: string): string {
  const m = /^urn:pulumi:([^:]+)::/.exec(urn);
  if (!m) throw new Error(`not a Pulumi URN: ${JSON.stringify(urn)}`);
  return m[1]!;
}

/**
 * The resources of a stack validation as the checks' `Evaluation`. Props are the outputs (see
 * above): every field the checks read is an input the providers echo into their outputs. No
 * value is marked secret (the policy engine does not say) and no stack outputs exist yet.
 * `retainOnDelete` is left out: the engine does not send it.
 */
export function evaluationOf(resources: readonly PolicyResourceLike[]): Evaluation {
  const stack = resources.length ? stackOfUrn(resources[0]!.urn) : "";
  return {
    stack,
    resources: resources.map((r) => {
      const registered = registeredOf(r);
      const reference = pendingImageReference(r);
      return reference === undefined
        ? registered
        : { ...registered, inputs: withImage(r.props, reference) };
    }),
    outputs: {},
    warnings: [],
    references: resources
      .filter((r) => r.type === "pulumi:pulumi:StackReference")
      .map((r) => String(r.props.name)),
  };
}

function registeredOf(r: PolicyResourceLike): RegisteredResource {
  const o = r.opts;
  const options: CapturedOptions = {};
  if (o.protect) options.protect = true;
  if (o.deleteBeforeReplace !== undefined) options.deleteBeforeReplace = o.deleteBeforeReplace;
  if (o.ignoreChanges?.length) options.ignoreChanges = [...o.ignoreChanges].sort();
  if (r.parent) options.parent = r.parent.name;
  const deps = (r.dependencies ?? []).map((d) => d.name);
  if (deps.length) options.dependsOn = [...new Set(deps)].sort();
  if (o.additionalSecretOutputs?.length)
    options.additionalSecretOutputs = [...o.additionalSecretOutputs].sort();
  const custom = !r.type.startsWith("pulumi:pulumi:") && !isComponent(r.type);
  return {
    type: r.type,
    name: r.name,
    inputs: r.props,
    ...(r.provider ? { provider: r.provider.urn } : {}),
    custom,
    options,
  };
}

/**
 * The engine's sentinel for a string not known yet (github:pulumi/pulumi
 * sdk/go/common/resource/plugin/rpc.go, `UnknownStringValue`); @pulumi/policy keeps it in the
 * deserialized props and throws when a policy reads it (proxy.js, `unknownCheckingProxy`).
 */
const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** @pulumi/policy's key for the object behind its proxy (proxy.js, `getSpecialProxyTarget`). */
const PROXY_TARGET = "__getSpecialProxyTarget";

/**
 * In a preview that pulls a new image (a tag bump), a container's `image` is the ID its
 * RemoteImage will get, unknown until the pull. What the checks read from it is the reference
 * the container runs, which is that RemoteImage's `name`: `imageReference` maps a known ID the
 * same way (lib/guardrails/resources.ts). So an unknown `image` of a container that depends on
 * its own RemoteImage (`<container>-image`, components/docker.ts) is read as that name; any other
 * unknown value still stops the policy that reads it.
 */
function pendingImageReference(r: PolicyResourceLike): string | undefined {
  if (r.type !== TYPES.container) return undefined;
  const raw = (r.props as Record<string, unknown>)[PROXY_TARGET] ?? r.props;
  if ((raw as Record<string, unknown>).image !== UNKNOWN_STRING) return undefined;
  const img = (r.dependencies ?? []).find(
    (d) => d.type === TYPES.image && d.name === `${r.name}-image`,
  );
  const name = img?.props?.name;
  return typeof name === "string" ? name : undefined;
}

/** `props` with `image` read as `reference`; every other field as @pulumi/policy gives it. */
function withImage(props: Record<string, unknown>, reference: string): Record<string, unknown> {
  return new Proxy(props, {
    get: (target, key, receiver) =>
      key === "image" ? reference : Reflect.get(target, key, receiver),
  });
}

/** The program's own component types (`homelab:index:<Class>`) are not custom resources. */
const isComponent = (type: string) => type.startsWith("homelab:");

/** The stack's declared intent from the config the language host passes (`PULUMI_CONFIG`). */
export function intentFromPolicyEnv(
  stack: string,
  env: Record<string, string | undefined>,
  project = "homelab",
): StackIntent {
  const raw = env.PULUMI_CONFIG;
  if (!raw) throw new Error("PULUMI_CONFIG is not set: the stack's config did not reach the pack");
  const config = JSON.parse(raw) as Record<string, string>;
  // The host does not say which keys are secret. This runs after the program accepted the same
  // config, and the program refuses its secret keys in plain text: those keys were secrets.
  const secretKeys = Object.keys(config).filter((k) =>
    (SECRET_KEYS as string[]).includes(k.slice(project.length + 1)),
  );
  return intentFromConfig(stack, { config, secretKeys }, project);
}

/** What the pack reports for one check on one stack. */
export interface PolicyVerdict {
  /** Violations: each refuses the operation. */
  mandatory: Finding[];
  /** What the pack could not decide, and why (printed as advisory). */
  advisory: string[];
}

/**
 * Runs one guardrail as the pack does. Findings of a check the engine can feed are mandatory.
 * `data-volume-retained` runs twice, without and with every volume retained: what it finds in
 * both does not depend on retainOnDelete (an unlabelled volume) and is mandatory; a data volume
 * found only without it is advisory, since the engine hides whether it is retained.
 * Fleet and secret checks are not run; `admin-auth` is advisory when the config is missing.
 */
export function policyVerdict(
  id: GuardrailId,
  e: Evaluation,
  intent: () => StackIntent,
): PolicyVerdict {
  const check = GUARDRAILS[id];
  const single = { fleet: { [e.stack]: e } };
  const limit = POLICY_LIMITS[id];
  switch (limit.kind) {
    case "full":
      return { mandatory: check(e, single), advisory: [] };
    case "fleet":
    case "secrets":
      return { mandatory: [], advisory: [`${id}: ${NOT_EVALUATED[limit.kind]}`] };
    case "intent": {
      let declared: StackIntent;
      try {
        declared = intent();
      } catch (err) {
        return {
          mandatory: [],
          advisory: [
            `${id}: not evaluated: the stack's intent (gatusPublic, http.admin) could not be read from its config: ${err instanceof Error ? err.message : String(err)}`,
          ],
        };
      }
      return { mandatory: check(e, { ...single, intent: { [e.stack]: declared } }), advisory: [] };
    }
    case "retain-on-delete": {
      const retained: Evaluation = {
        ...e,
        resources: e.resources.map((r) => ({
          ...r,
          options: { ...r.options, retainOnDelete: true },
        })),
      };
      const either = check(retained, { fleet: { [e.stack]: retained } });
      const key = (f: Finding) => `${f.resource}\0${f.message}`;
      const certain = new Set(either.map(key));
      const found = check(e, single);
      const unsure = found.filter((f) => !certain.has(key(f))).map((f) => f.resource);
      return {
        mandatory: found.filter((f) => certain.has(key(f))),
        advisory: unsure.length
          ? [`${id}: ${unsure.join(", ")}: ${NOT_EVALUATED["retain-on-delete"]}`]
          : [],
      };
    }
  }
}
