/**
 * The plan for a terminal: per server its containers, routes, monitors (including the checks
 * other servers run on it), backups, update policy and warnings. Pure: returns the text.
 */
import { captureText, exposureLines } from "./report-model";
import type { BackupPlan, MonitorPlan, ReplicaPlan, ServerPlan } from "./report-model";

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(rows: string[][], indent = "  "): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map(
    (r) =>
      indent +
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
  );
}

/** `cloud (9 checks), offsite (6 checks)`: checks grouped by the server they belong to. */
export function countBy(monitors: MonitorPlan[], key: (m: MonitorPlan) => string): string {
  const counts = new Map<string, number>();
  for (const m of monitors) counts.set(key(m), (counts.get(key(m)) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} (${n} check${n === 1 ? "" : "s"})`)
    .join(", ");
}

/** `14: backup ×4 every ≤25h, check ×5 every ≤169h, …` (job kind = name up to the first "-"). */
export function heartbeatSummary(beats: MonitorPlan[]): string {
  const groups = new Map<string, number>();
  for (const b of beats) {
    const key = `${b.name.split("-")[0]} ×{n} every ≤${b.interval ?? "?"}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  const parts = [...groups].map(([k, n]) => k.replace("{n}", String(n)));
  return parts.length ? `${beats.length}: ${parts.join(", ")}` : "none";
}

export function retentionText(b: BackupPlan): string {
  const r = b.retention;
  return `keep ${r.keepDaily} daily, ${r.keepWeekly} weekly, ${r.keepMonthly} monthly`;
}

export function replicationText(b: BackupPlan): string {
  const readable = `readable by ${b.readableBy.join(", ")}`;
  if (b.replicatedTo.length === 0) return `not replicated; ${readable}`;
  const how = (p: string) =>
    b.verifiedBy.includes(p)
      ? `${p} (with the key: checked, drilled)`
      : b.verifiedWithoutKey.includes(p)
        ? `${p} (ciphertext only: verified without the key)`
        : `${p} (unverified)`;
  return `→ ${b.replicatedTo.map(how).join(", ")}; ${readable}`;
}

/** A replica held here: `home/immich`, or `home/immich (ciphertext only)` without its key. */
/** What `pulumi destroy` of the stack leaves on the host. */
export function retainedText(p: ServerPlan): string {
  if (p.retained.length === 0) return "pulumi destroy keeps no volume";
  return `pulumi destroy keeps (retainOnDelete; removed by hand, docs/remove-a-server.md): ${p.retained.join(", ")}`;
}

export function replicaText(r: ReplicaPlan): string {
  return `${r.origin}/${r.service}${r.withKey ? "" : " (ciphertext only)"}`;
}

/** One server's section. */
export function serverText(p: ServerPlan): string {
  const lines: string[] = [];
  lines.push(`━━ ${p.stack}${p.role ? ` — ${p.role}` : ""}`);
  lines.push(`Docker engine: ${p.engine || "none"}`);
  const exposed = exposureLines(p.exposure);
  lines.push(
    ...(exposed.length ? ["Published ports by host address", ...exposed.map((l) => `  ${l}`)] : []),
    "",
  );

  lines.push(`Containers (${p.containers.length})`);
  lines.push(
    ...table([
      ["NAME", "IMAGE", "NETWORKS", "PORTS", "UPDATES"],
      ...p.containers.map((c) => [
        c.name,
        c.image,
        c.networks.join(",") || "-",
        c.ports.join(",") || "-",
        c.update.policy,
      ]),
    ]),
    "",
  );

  lines.push(`Routes (${p.routes.length})`);
  lines.push(
    ...(p.routes.length
      ? table(
          p.routes.map((r) => [
            r.url,
            "→",
            r.service + (r.auth ? `  [${r.login ?? "basic auth"}]` : ""),
          ]),
        )
      : ["  none"]),
    "",
  );

  if (p.homepage) {
    const h = p.homepage;
    const n = h.groups.reduce((sum, g) => sum + g.entries.length, 0);
    lines.push(`Homepage: ${h.url}`);
    lines.push(
      `  lists ${n} entries of ${h.groups.map((g) => `${g.server} (${g.entries.length})`).join(", ")}`,
      "",
    );
  }

  const checks = p.monitors.filter((m) => m.kind !== "heartbeat");
  const beats = p.monitors.filter((m) => m.kind === "heartbeat");
  lines.push("Monitors");
  lines.push(`  ${p.stack}'s Gatus watches: ${countBy(checks, (m) => m.target) || "nothing"}`);
  for (const target of [...new Set(checks.map((m) => m.target))].sort()) {
    lines.push(`    ${target}:`);
    lines.push(
      ...table(
        checks
          .filter((m) => m.target === target)
          .map((m) => [m.name, m.url, `alerts: ${m.alerts.join("+") || "none"}`]),
        "      ",
      ),
    );
  }
  lines.push(`  heartbeats expected: ${heartbeatSummary(beats)}`);
  lines.push(`  watched by: ${countBy(p.watchedBy, (m) => m.watcher) || "nobody"}`, "");

  lines.push(`Backups (${p.backups.length})`);
  for (const b of p.backups) {
    lines.push(`  ${b.service}: ${b.what.join(" + ") || "nothing"} → ${b.repository}`);
    lines.push(`    capture: ${captureText(b.capture)}`);
    lines.push(
      `    backup ${b.schedule}${b.check ? `, check ${b.check}` : ""}${b.drill ? `, drill ${b.drill}` : ""}; ${retentionText(b)}`,
    );
    lines.push(`    ${replicationText(b)}`);
  }
  if (p.backups.length === 0) lines.push("  none");
  lines.push(`  replicas held here: ${p.replicas.map(replicaText).join(", ") || "none"}`);
  lines.push(`  ${retainedText(p)}`, "");

  lines.push("Update policy");
  for (const policy of ["pinned", "notify", "auto"] as const) {
    const list = p.containers.filter((c) => c.update.policy === policy);
    if (!list.length) continue;
    lines.push(`  ${policy}: ${list.map((c) => c.name).join(", ")}`);
    lines.push(`    ${list[0]!.update.detail}`);
  }
  lines.push("");

  lines.push(`Warnings (${p.warnings.length})`);
  lines.push(...(p.warnings.length ? p.warnings.map((w) => `  ! ${w}`) : ["  none"]));
  return lines.join("\n");
}

/** The whole plan. */
export function planText(plans: ServerPlan[], rounds: number): string {
  const total = plans.reduce((n, p) => n + p.warnings.length, 0);
  const head =
    `homelab plan: ${plans.map((p) => p.stack).join(", ")} ` +
    `(offline, stack references settled in ${rounds} round${rounds === 1 ? "" : "s"}, secrets shown as [secret])`;
  const homepage = plans.find((p) => p.homepage);
  return [
    head,
    ...(homepage
      ? [`Homepage of the fleet: ${homepage.homepage!.url} (on ${homepage.stack})`]
      : []),
    "",
    ...plans.map((p) => serverText(p) + "\n"),
    `${plans.length} server${plans.length === 1 ? "" : "s"}, ${total} warning${total === 1 ? "" : "s"}.`,
  ].join("\n");
}
