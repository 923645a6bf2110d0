/**
 * Warnings the plan derives from the whole fleet, on top of the ones the program logs itself
 * (missing peers, absent outputs): a routed service nobody monitors, a stateful volume without
 * a backup, a backup without a heartbeat, and a stack reference to a stack that has no config.
 * Kept apart from the report so fleet-wide guardrails can feed or replace these checks.
 */
import { Finding, StackIntent, checkStack } from "../lib/guardrails";
import type { Evaluation } from "./evaluate";
import type { MissingPeer } from "./fleet";
import type { ServerPlan } from "./report-model";
import { TYPES, containers, labelsOf, redact } from "./report-read";

export interface WarningInput {
  evaluations: Record<string, Evaluation>;
  plans: ServerPlan[];
  missing: MissingPeer[];
  /** Declared intent by stack (`intentFromConfig`); absent: Gatus private, admin UIs unknown. */
  intent?: Record<string, StackIntent>;
  /** Guardrail findings by stack, when the caller has them already (`makePlan`). */
  findings?: Record<string, Finding[]>;
}

/**
 * Every warning of each stack: the program's own first, then missing peers, then every
 * guardrail finding (lib/guardrails, docs/guardrails.md). The guardrails cover what
 * unmonitoredRoutes, volumesWithoutBackup and backupsWithoutHeartbeat check, and more.
 */
export function planWarnings(i: WarningInput): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const plan of i.plans) {
    const e = i.evaluations[plan.stack]!;
    out[plan.stack] = [
      ...e.warnings,
      ...missingPeers(plan.stack, i.missing),
      ...(
        i.findings?.[plan.stack] ?? checkStack(e, { fleet: i.evaluations, intent: i.intent })
      ).map((f) => `guardrail ${f.check}: ${f.resource}: ${f.message}`),
    ];
  }
  return out;
}

export function missingPeers(stack: string, missing: MissingPeer[]): string[] {
  return missing
    .filter((m) => m.stack === stack)
    .map(
      (m) =>
        `missing peer: ${stack} references stack "${m.peer}", which has no Pulumi.${m.peer}.yaml here; ` +
        `planned as on a first deployment (nothing of it is watched or replicated). Add the stack, or remove "${m.peer}" from peers.`,
    );
}

const hostOf = (url: string) => {
  const m = /^[a-z]+:\/\/([^/:]+)/.exec(url);
  return m ? m[1]! : url;
};

/** A route is monitored when some server's Gatus checks a URL on its host. */
export function unmonitoredRoutes(plan: ServerPlan, plans: ServerPlan[]): string[] {
  const watched = new Set(
    plans.flatMap((p) =>
      p.monitors.filter((m) => m.kind !== "heartbeat").map((m) => hostOf(m.url)),
    ),
  );
  return plan.routes
    .filter((r) => !watched.has(hostOf(r.url)))
    .map(
      (r) =>
        `unmonitored route: ${r.url} (${r.service}) is routed but no server's Gatus checks it; give the service an http health path or a Gatus endpoint.`,
    );
}

/**
 * A data volume of a declared service that no backup covers: not mounted by the service's
 * backup sidecar, and the service has no dump either.
 */
export function volumesWithoutBackup(e: Evaluation, plan: ServerPlan): string[] {
  const dataVolumes = new Set(
    e.resources
      .filter((r) => r.type === TYPES.volume)
      .filter((r) => {
        const labels = redact(r.inputs.labels) as { label: string; value: string }[] | null;
        return (labels ?? []).some((l) => l.label === "homelab.kind" && l.value === "data");
      })
      .map((r) => String(r.inputs.name)),
  );
  const out: string[] = [];
  for (const c of containers(e)) {
    if (labelsOf(c)["homelab.role"] !== "service") continue;
    const name = String(c.inputs.name);
    const backup = plan.backups.find((b) => b.service === name);
    const covered = new Set(
      (backup?.what ?? []).flatMap((w) => (w.startsWith("volume ") ? [w.slice(7)] : [])),
    );
    const hasDump = (backup?.what ?? []).some((w) => w.startsWith("dump "));
    const mounts = (redact(c.inputs.volumes) ?? []) as {
      volumeName?: string;
      containerPath: string;
    }[];
    for (const m of mounts) {
      if (!m.volumeName || !dataVolumes.has(m.volumeName) || covered.has(m.volumeName)) continue;
      if (hasDump) continue;
      out.push(
        `volume without backup: ${m.volumeName} (data, ${name}:${m.containerPath}) is in no backup; ` +
          `enable the service's backup, add a dump, or declare the volume kind: "cache".`,
      );
    }
  }
  return out;
}

/** Every backup job (and every replica's check and drill) must push a heartbeat to Gatus. */
export function backupsWithoutHeartbeat(plan: ServerPlan, plans: ServerPlan[]): string[] {
  const beats = (stack: string) =>
    new Set(
      (plans.find((p) => p.stack === stack)?.monitors ?? [])
        .filter((m) => m.kind === "heartbeat")
        .map((m) => m.name),
    );
  const out: string[] = [];
  const own = beats(plan.stack);
  for (const b of plan.backups) {
    const lacking = ["backup", "check", "drill"].filter((job) => !own.has(`${job}-${b.service}`));
    if (lacking.length)
      out.push(
        `backup without heartbeat: ${plan.stack}/${b.service} has no Gatus heartbeat for ${lacking.join(", ")}; a job that never runs would go unnoticed.`,
      );
  }
  for (const r of plan.replicas) {
    const jobs = r.withKey ? ["check", "drill"] : ["verify"];
    const lacking = jobs.filter((job) => !own.has(`${job}-${r.origin}-${r.service}`));
    if (lacking.length)
      out.push(
        `backup without heartbeat: the replica of ${r.origin}/${r.service} has no Gatus heartbeat for ${lacking.join(", ")} on ${plan.stack}.`,
      );
  }
  return out;
}
