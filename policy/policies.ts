/**
 * The policies of the homelab-guardrails pack: one mandatory stack policy per guardrail
 * (lib/guardrails, docs/guardrails.md), run on the resources of the stack being previewed or
 * updated, plus one advisory policy that says what the pack could not decide and why
 * (lib/guardrails/policy.ts). Kept apart from pack.ts, which serves them, so tests can run them.
 */
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { GUARDRAILS, GuardrailId, formatFinding } from "../lib/guardrails";
import {
  POLICY_LIMITS,
  PolicyVerdict,
  evaluationOf,
  intentFromPolicyEnv,
  policyVerdict,
} from "../lib/guardrails/policy";
import { describeResource } from "../lib/guardrails/resources";

export const PACK_NAME = "homelab-guardrails";
/** The advisory policy that lists what the pack could not decide. */
export const NOT_EVALUATED_POLICY = "guardrails-not-evaluated";

const IDS = Object.keys(GUARDRAILS) as GuardrailId[];

/** What each guardrail protects (docs/guardrails.md, "Property"). */
const DESCRIPTIONS: Record<GuardrailId, string> = {
  "data-volume-retained": "Every volume that holds data survives a rename or pulumi destroy.",
  "delete-before-replace": "Every named container is deleted before its replacement is created.",
  "docker-socket":
    "The Docker socket reaches only the read-only socket proxy and a monitor-only updater.",
  "routed-tls-headers": "Every route is HTTPS-only, with a certificate and the security headers.",
  "admin-auth": "Every admin UI has a login.",
  "backed-up": "Every data volume of a service or a standard component is backed up.",
  "consistent-capture":
    "Every backup captures its data consistently, as it declares; a stop or hook capture reaches Docker only through its own narrow proxy.",
  replicated:
    "Every backup repository is replicated receive-only to another server and verified there.",
  monitored: "Every routed host is watched by its own server's Gatus and by another server's.",
  heartbeat:
    "Every scheduled backup, check, drill and verify job has a heartbeat monitor, with its own token.",
  "drilled-elsewhere":
    "Every repository is restore-drilled with its key on a server other than its writer.",
  "keyless-storage": "A server with trust: storage holds none of its peers' restic passwords.",
  "backup-isolation": "Each container that touches the backup volume sees only its own part of it.",
  "no-latest": "No container that holds data runs a moving tag.",
  "restart-and-logs": "Every container restarts after a crash or reboot and rotates its logs.",
  "unique-host-ports": "A host port (and protocol) is published by one container per server.",
  "unique-hosts": "Every routed host is served by one server of the fleet.",
  "no-plaintext-secret": "No secret appears in plain text in any input, label, env value or file.",
};

type Env = Record<string, string | undefined>;

function verdictOf(id: GuardrailId, resources: readonly PolicyResource[], env: Env): PolicyVerdict {
  const e = evaluationOf(resources);
  return policyVerdict(id, e, () => intentFromPolicyEnv(e.stack, env));
}

/** The URN of the resource a finding names (`describeResource`), so the CLI shows it there. */
function urnOf(resources: readonly PolicyResource[], described: string): string | undefined {
  const e = evaluationOf(resources);
  const i = e.resources.findIndex((r) => describeResource(r) === described);
  return i < 0 ? undefined : resources[i]!.urn;
}

/** The pack's policies; `env` is where the language host puts the stack's config. */
export function guardrailPolicies(env: Env = process.env): StackValidationPolicy[] {
  const checks = IDS.map((id): StackValidationPolicy => ({
    name: id,
    description: `${DESCRIPTIONS[id]} (homelab guardrail ${id}, docs/guardrails.md)`,
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
      const verdict = verdictOf(id, args.resources, env);
      for (const f of verdict.mandatory)
        reportViolation(formatFinding(f), urnOf(args.resources, f.resource));
      // A check the pack could not run at all is "not applicable", with the reason; one it ran
      // in part (data-volume-retained) leaves its note to the advisory policy.
      if (POLICY_LIMITS[id].kind !== "retain-on-delete" && verdict.advisory.length)
        args.notApplicable(verdict.advisory.join("; "));
    },
  }));
  const notEvaluated: StackValidationPolicy = {
    name: NOT_EVALUATED_POLICY,
    description:
      "Guardrails, or parts of them, that a policy cannot decide (docs/guardrails.md, Policy pack); npm run plan -- --strict decides them",
    enforcementLevel: "advisory",
    validateStack: (args, reportViolation) => {
      for (const id of IDS)
        for (const line of verdictOf(id, args.resources, env).advisory) reportViolation(line);
    },
  };
  return [...checks, notEvaluated];
}
