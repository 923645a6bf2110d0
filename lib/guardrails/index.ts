/**
 * The fleet's safety properties as pure checks over evaluated stacks (cli/evaluate.ts): every
 * check takes one stack's registered resources and the whole fleet, and returns findings that
 * name the resource and the fix. `npm test` runs them on the reference fleet; `npm run plan`
 * lists them as warnings. docs/guardrails.md explains each one.
 */
import type { Evaluation } from "../../cli/evaluate";
import { backedUp, consistentCapture, heartbeat, replicated } from "./backups";
import {
  dataVolumesRetained,
  deleteBeforeReplace,
  noLatest,
  restartAndLogs,
  uniqueHostPorts,
} from "./containers";
import type { Finding, Guardrail, GuardrailContext, GuardrailId } from "./resources";
import { backupIsolation, drilledElsewhere, keylessStorage } from "./replicas";
import { adminAuth, monitored, routedTlsHeaders, uniqueHosts } from "./routing";
import { noPlaintextSecret } from "./secrets";
import { dockerSocket } from "./socket";

export type { Finding, Guardrail, GuardrailContext, GuardrailId, StackIntent } from "./resources";
export { intentFromConfig, intentOf } from "./intent";

/** Every guardrail by id, in the order docs/guardrails.md lists them. */
export const GUARDRAILS: Record<GuardrailId, Guardrail> = {
  "data-volume-retained": dataVolumesRetained,
  "delete-before-replace": deleteBeforeReplace,
  "docker-socket": dockerSocket,
  "routed-tls-headers": routedTlsHeaders,
  "admin-auth": adminAuth,
  "backed-up": backedUp,
  "consistent-capture": consistentCapture,
  replicated,
  monitored,
  heartbeat,
  "drilled-elsewhere": drilledElsewhere,
  "keyless-storage": keylessStorage,
  "backup-isolation": backupIsolation,
  "no-latest": noLatest,
  "restart-and-logs": restartAndLogs,
  "unique-host-ports": uniqueHostPorts,
  "unique-hosts": uniqueHosts,
  "no-plaintext-secret": noPlaintextSecret,
};

/** Runs every guardrail (or those in `only`) on one stack. */
export function checkStack(
  e: Evaluation,
  ctx: GuardrailContext,
  only?: readonly GuardrailId[],
): Finding[] {
  const ids = (Object.keys(GUARDRAILS) as GuardrailId[]).filter((id) => !only || only.includes(id));
  return ids.flatMap((id) => GUARDRAILS[id](e, ctx));
}

/** Runs every guardrail on every stack of the fleet. */
export function checkFleet(
  fleet: Record<string, Evaluation>,
  intent?: GuardrailContext["intent"],
): Finding[] {
  return Object.keys(fleet)
    .sort()
    .flatMap((s) => checkStack(fleet[s]!, { fleet, intent }));
}

/** One line per finding: `[check] stack: resource: message`. */
export function formatFinding(f: Finding): string {
  return `[${f.check}] ${f.stack}: ${f.resource}: ${f.message}`;
}
