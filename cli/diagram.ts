/**
 * The fleet topology: servers, the services on each, who monitors whom and where backups are
 * replicated. One model, two pure renderers (Mermaid for Markdown, Graphviz DOT for the SVG),
 * and `renderSvg`, which runs Graphviz's `dot` (offline; Debian package graphviz).
 */
import { spawnSync } from "node:child_process";
import type { ServerPlan } from "./report-model";

export interface Topology {
  servers: {
    stack: string;
    role: string;
    /** Declared services (and ntfy where hosted), with their URL when routed. */
    services: { name: string; url?: string }[];
    /** The standard components running there. */
    system: string[];
    /** Checks its Gatus runs on itself, and heartbeats it expects. */
    localChecks: number;
    heartbeats: number;
    backups: number;
    replicas: number;
  }[];
  /** `from`'s Gatus checks `count` endpoints of `to`. */
  monitors: { from: string; to: string; count: number }[];
  /** `from`'s restic repositories of `services` are replicated to `to`. */
  replication: { from: string; to: string; services: string[] }[];
}

const SYSTEM_ROLES = ["traefik", "socket-proxy", "gatus", "syncthing", "watchtower"];

export function topology(plans: ServerPlan[]): Topology {
  const stacks = new Set(plans.map((p) => p.stack));
  const monitors: Topology["monitors"] = [];
  const replication: Topology["replication"] = [];
  for (const p of plans) {
    const counts = new Map<string, number>();
    for (const m of p.monitors) {
      if (m.kind === "heartbeat" || m.target === p.stack || !stacks.has(m.target)) continue;
      counts.set(m.target, (counts.get(m.target) ?? 0) + 1);
    }
    for (const [to, count] of [...counts].sort(([a], [b]) => a.localeCompare(b)))
      monitors.push({ from: p.stack, to, count });
    const peers = [...new Set(p.backups.flatMap((b) => b.replicatedTo))].sort();
    for (const to of peers) {
      if (!stacks.has(to)) continue;
      const services = p.backups.filter((b) => b.replicatedTo.includes(to)).map((b) => b.service);
      replication.push({ from: p.stack, to, services });
    }
  }
  return {
    servers: plans.map((p) => ({
      stack: p.stack,
      role: p.role,
      services: p.containers
        .filter((c) => c.role === "service" || c.role === "ntfy")
        .map((c) => {
          const route = p.routes.find((r) => r.service === c.name);
          return route ? { name: c.name, url: route.url } : { name: c.name };
        }),
      system: SYSTEM_ROLES.filter((r) => p.containers.some((c) => c.role === r)),
      localChecks: p.monitors.filter((m) => m.kind !== "heartbeat" && m.target === p.stack).length,
      heartbeats: p.monitors.filter((m) => m.kind === "heartbeat").length,
      backups: p.backups.length,
      replicas: p.replicas.length,
    })),
    monitors,
    replication,
  };
}

const id = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_");
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const host = (url?: string) => (url ? url.replace(/^https:\/\//, "") : "");

/** Mermaid `flowchart` for GitHub-rendered Markdown. */
export function renderMermaid(t: Topology): string {
  const q = (s: string) => `"${s.replace(/"/g, "#quot;")}"`;
  const lines = ["flowchart LR"];
  for (const s of t.servers) {
    const n = id(s.stack);
    lines.push(`  subgraph ${n}[${q(`${s.stack}: ${s.role}`)}]`);
    lines.push(`    direction TB`);
    const services = s.services.length
      ? s.services.map((x) => (x.url ? `${x.name} · ${host(x.url)}` : x.name)).join("<br/>")
      : "no services of its own";
    lines.push(`    ${n}_services[${q(services)}]`);
    lines.push(
      `    ${n}_gatus[${q(`gatus: ${plural(s.localChecks, "local check")}, ${plural(s.heartbeats, "heartbeat")}`)}]`,
    );
    lines.push(
      `    ${n}_backups[(${q(`restic: ${plural(s.backups, "repository")}, ${plural(s.replicas, "replica")}`)})]`,
    );
    lines.push(`  end`);
  }
  for (const m of t.monitors)
    lines.push(`  ${id(m.from)}_gatus -. ${q(`watches ${m.count}`)} .-> ${id(m.to)}_services`);
  for (const r of t.replication)
    lines.push(
      `  ${id(r.from)}_backups == ${q(`replicates ${r.services.join(", ")}`)} ==> ${id(r.to)}_backups`,
    );
  lines.push(
    "  classDef mon stroke:#1f6feb",
    ...t.servers.map((s) => `  class ${id(s.stack)}_gatus mon`),
  );
  return lines.join("\n") + "\n";
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const PALETTE = ["#e8f0fe", "#e6f4ea", "#fef7e0", "#fce8e6", "#f3e8fd", "#e0f7fa"];

/** Graphviz DOT: one cluster per server, blue dashed monitor arrows, green replication arrows. */
export function renderDot(t: Topology): string {
  const out: string[] = [
    "digraph fleet {",
    '  graph [rankdir=LR, compound=true, newrank=true, fontname="Helvetica", fontsize=16, nodesep=0.5, ranksep=1.6, pad=0.3, label=<<b>homelab fleet</b><br/><font point-size="11">blue dashed: Gatus monitoring · green: restic repositories replicated by Syncthing</font>>, labelloc=t];',
    '  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded,filled", fillcolor="white", color="#5f6368"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  t.servers.forEach((s, i) => {
    const n = id(s.stack);
    out.push(`  subgraph cluster_${n} {`);
    out.push(
      `    label=<<b>${esc(s.stack)}</b><br/><font point-size="10">${esc(s.role)}</font>>; style="rounded,filled"; fillcolor="${PALETTE[i % PALETTE.length]}"; color="#5f6368"; fontsize=14;`,
    );
    const rows = s.services.length
      ? s.services
          .map(
            (x) =>
              `<tr><td align="left"><b>${esc(x.name)}</b></td><td align="left"><font color="#1a73e8">${esc(host(x.url)) || "internal"}</font></td></tr>`,
          )
          .join("")
      : '<tr><td colspan="2"><i>no services of its own</i></td></tr>';
    out.push(
      `    ${n}_services [shape=plain, style="", label=<<table border="1" cellborder="0" cellspacing="0" cellpadding="4" bgcolor="white" color="#5f6368"><tr><td colspan="2" bgcolor="#dadce0"><b>services</b></td></tr>${rows}</table>>];`,
    );
    out.push(
      `    ${n}_system [label=${dotString(s.system.join(" · "))}, fontsize=10, fillcolor="#f1f3f4"];`,
    );
    out.push(
      `    ${n}_gatus [label=${dotString(`gatus\n${plural(s.localChecks, "local check")}, ${plural(s.heartbeats, "heartbeat")}`)}, color="#1a73e8", penwidth=1.5];`,
    );
    out.push(
      `    ${n}_backups [shape=cylinder, style=filled, label=${dotString(`restic\n${plural(s.backups, "repository")}\n${plural(s.replicas, "replica")} of peers`)}, color="#188038", penwidth=1.5];`,
    );
    out.push(`    ${n}_gatus -> ${n}_services [style=invis];`);
    out.push(`    ${n}_system -> ${n}_backups [style=invis];`);
    out.push("  }");
  });
  for (const m of t.monitors) {
    out.push(
      `  ${id(m.from)}_gatus -> ${id(m.to)}_gatus [lhead=cluster_${id(m.to)}, color="#1a73e8", fontcolor="#1a73e8", style=dashed, label=${dotString(`${m.from} watches ${m.count}`)}, constraint=false];`,
    );
  }
  for (const r of t.replication) {
    out.push(
      `  ${id(r.from)}_backups -> ${id(r.to)}_backups [color="#188038", fontcolor="#188038", penwidth=2, label=${dotString(r.services.join("\n"))}];`,
    );
  }
  out.push("}");
  return out.join("\n") + "\n";
}

function dotString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Runs Graphviz `dot`; throws with the fix when it is missing or fails. */
export function renderSvg(dot: string, format: "svg" | "png" = "svg"): Buffer {
  const r = spawnSync("dot", [`-T${format}`], { input: dot, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) {
    throw new Error(
      `cannot run Graphviz \`dot\` (${r.error.message}); install it: \`apt-get install graphviz\` (or run scripts/ensure-tools.sh)`,
    );
  }
  if (r.status !== 0) throw new Error(`dot failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}
