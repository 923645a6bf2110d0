/**
 * The fleet topology: servers, the services on each, who monitors whom and where backups are
 * replicated. One model, two pure renderers (Mermaid for Markdown, Graphviz DOT for the SVG),
 * and `renderSvg`, which lays the DOT out with Graphviz compiled to WebAssembly (@viz-js/viz:
 * the same Graphviz, no system package to install).
 */
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

// Gatus has a node of its own.
const SYSTEM_ROLES = ["traefik", "socket-proxy", "syncthing", "watchtower"];

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
const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
const host = (url?: string) => (url ? url.replace(/^https:\/\//, "") : "");

/** Mermaid `flowchart` for GitHub-rendered Markdown. */
export function renderMermaid(t: Topology): string {
  const q = (s: string) => `"${s.replace(/"/g, "#quot;")}"`;
  const lines = ["flowchart LR"];
  for (const s of t.servers) {
    const n = id(s.stack);
    // Prefixed: a stack named like a Mermaid keyword (`end`, `graph`) must not end the block.
    lines.push(`  subgraph server_${n}[${q(`${s.stack}: ${s.role}`)}]`);
    lines.push(`    direction TB`);
    const services = s.services.length
      ? s.services.map((x) => (x.url ? `${x.name} · ${host(x.url)}` : x.name)).join("<br/>")
      : "no services of its own";
    lines.push(`    ${n}_services[${q(services)}]`);
    lines.push(
      `    ${n}_gatus[${q(`gatus: ${plural(s.localChecks, "local check")}, ${plural(s.heartbeats, "heartbeat")}`)}]`,
    );
    lines.push(
      `    ${n}_backups[(${q(`restic: ${plural(s.backups, "repository", "repositories")}, ${plural(s.replicas, "replica")}`)})]`,
    );
    lines.push(`  end`);
  }
  for (const m of t.monitors)
    lines.push(`  ${id(m.from)}_gatus -.->|${q(`watches ${m.count}`)}| ${id(m.to)}_services`);
  for (const r of t.replication)
    lines.push(
      `  ${id(r.from)}_backups ==>|${q(`replicates ${r.services.join(", ")}`)}| ${id(r.to)}_backups`,
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

/** Edges of both directions between two servers, merged into one (fewer crossing lines). */
export function pairs<T extends { from: string; to: string }>(
  edges: T[],
): { a: string; b: string; ab?: T; ba?: T }[] {
  const out = new Map<string, { a: string; b: string; ab?: T; ba?: T }>();
  for (const e of edges) {
    const [a, b] = [e.from, e.to].sort();
    const key = `${a}\0${b}`;
    const p = out.get(key) ?? { a: a!, b: b! };
    if (e.from === a) p.ab = e;
    else p.ba = e;
    out.set(key, p);
  }
  return [...out.values()];
}

/**
 * Graphviz DOT: one column per server (its Gatus on top, its restic repositories at the
 * bottom), blue dashed monitoring arrows between the Gatus nodes, green replication arrows
 * between the repositories. Both directions between two servers share one arrow.
 */
export function renderDot(t: Topology): string {
  const out: string[] = [
    "digraph fleet {",
    '  graph [rankdir=TB, newrank=true, fontname="Helvetica", fontsize=16, nodesep=0.9, ranksep=0.45, pad=0.3, label=<<b>homelab fleet</b><br/><font point-size="11">blue dashed: Gatus monitoring (who watches how many endpoints of whom) · green: restic repositories replicated by Syncthing</font>>, labelloc=t];',
    '  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded,filled", fillcolor="white", color="#5f6368"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  t.servers.forEach((s, i) => {
    const n = id(s.stack);
    out.push(`  subgraph cluster_${n} {`);
    out.push(
      `    label=<<b>${esc(s.stack)}</b><br/><font point-size="10">${esc(s.role)}</font>>; style="rounded,filled"; fillcolor="${PALETTE[i % PALETTE.length]}"; color="#5f6368"; fontsize=14; margin=16;`,
    );
    out.push(
      `    ${n}_gatus [label=${dotString(`gatus\n${plural(s.localChecks, "local check")}, ${plural(s.heartbeats, "heartbeat")}`)}, color="#1a73e8", penwidth=1.5];`,
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
      `    ${n}_backups [shape=cylinder, style=filled, label=${dotString(`restic\n${plural(s.backups, "repository", "repositories")}\n${plural(s.replicas, "replica")} of peers`)}, color="#188038", penwidth=1.5];`,
    );
    out.push(`    ${n}_gatus -> ${n}_services -> ${n}_system -> ${n}_backups [style=invis];`);
    out.push("  }");
  });
  const same = (role: string) =>
    `  { rank=same; ${t.servers.map((s) => `${id(s.stack)}_${role};`).join(" ")} }`;
  out.push(same("gatus"), same("backups"));
  for (const p of pairs(t.monitors)) {
    const lines = [p.ab, p.ba].flatMap((m) =>
      m ? [`${m.from} watches ${plural(m.count, "endpoint")} of ${m.to}`] : [],
    );
    out.push(
      `  ${id(p.a)}_gatus -> ${id(p.b)}_gatus [dir=${p.ab && p.ba ? "both" : p.ab ? "forward" : "back"}, color="#1a73e8", fontcolor="#1a73e8", style=dashed, penwidth=1.5, label=${boxed(lines)}];`,
    );
  }
  for (const p of pairs(t.replication)) {
    const lines = [p.ab, p.ba].flatMap((r) =>
      r ? wrap(`${r.from} → ${r.to}: ${r.services.join(", ")}`, 34) : [],
    );
    out.push(
      `  ${id(p.a)}_backups -> ${id(p.b)}_backups [dir=${p.ab && p.ba ? "both" : p.ab ? "forward" : "back"}, color="#188038", fontcolor="#188038", penwidth=2, label=${boxed(lines)}];`,
    );
  }
  out.push("}");
  return out.join("\n") + "\n";
}

/** An edge label on a white box, so lines crossing it do not hide the text. */
function boxed(lines: string[]): string {
  const rows = lines.map((l) => `<tr><td>${esc(l)}</td></tr>`).join("");
  return `<<table border="0" cellborder="0" cellspacing="0" cellpadding="1" bgcolor="white">${rows}</table>>`;
}

/** Splits `text` at ", " so no line is much longer than `width`. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const part of text.split(/(?<=, )/)) {
    if (line && (line + part).trimEnd().length > width) {
      lines.push(line.trimEnd());
      line = "  " + part;
    } else line += part;
  }
  if (line.trim()) lines.push(line.trimEnd());
  return lines;
}

function dotString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Lays `dot` out with Graphviz (WebAssembly); throws with Graphviz's own messages on bad input. */
export async function renderSvg(dot: string): Promise<string> {
  const { instance } = await import("@viz-js/viz");
  const r = (await instance()).render(dot, { format: "svg" });
  if (r.status !== "success") {
    throw new Error(`Graphviz failed: ${r.errors.map((e) => e.message.trim()).join("; ")}`);
  }
  return r.output;
}
