/**
 * `--out DIR`: a Markdown report per server (`<stack>.md`) and a fleet report (`fleet.md`) with
 * the topology as Mermaid, plus the same topology as Graphviz source and SVG.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderDot, renderMermaid, renderSvg, topology } from "./diagram";
import type { Plan } from "./plan";
import { captureText, exposureLines } from "./report-model";
import type { HomepagePlan, ServerPlan } from "./report-model";
import { countBy, replicaText, replicationText, retainedText, retentionText } from "./report-text";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (s: string) => (s ? `\`${s}\`` : "–");

function mdTable(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ];
}

/** `<stack>.md` */
export function serverMarkdown(p: ServerPlan): string {
  const l: string[] = [
    `# ${p.stack}`,
    "",
    `_${p.role}_ · Docker engine ${code(p.engine)}`,
    "",
    "[← fleet](fleet.md)",
    "",
  ];
  const exposed = exposureLines(p.exposure);
  l.push(
    "## Published ports by host address",
    "",
    ...(exposed.length ? exposed.map((x) => `- ${x}`) : ["none"]),
    "",
  );
  l.push(`## Containers (${p.containers.length})`, "");
  l.push(
    ...mdTable(
      ["container", "role", "image", "networks", "published ports", "updates"],
      p.containers.map((c) => [
        `**${c.name}**`,
        c.role,
        code(c.image),
        c.networks.join(", ") || "–",
        c.ports.join(", ") || "–",
        c.update.policy,
      ]),
    ),
    "",
  );
  l.push(`## Routes (${p.routes.length})`, "");
  l.push(
    ...(p.routes.length
      ? mdTable(
          ["URL", "service", "auth"],
          p.routes.map((r) => [r.url, r.service, r.auth ? (r.login ?? "basic auth") : "–"]),
        )
      : ["None."]),
    "",
  );
  const checks = p.monitors.filter((m) => m.kind !== "heartbeat");
  const beats = p.monitors.filter((m) => m.kind === "heartbeat");
  l.push("## Monitors", "");
  l.push(`This server's Gatus watches ${countBy(checks, (m) => m.target) || "nothing"}.`, "");
  l.push(
    ...mdTable(
      ["server", "check", "URL", "alerts"],
      checks.map((m) => [m.target, m.name, code(m.url), m.alerts.join(" + ") || "–"]),
    ),
    "",
  );
  l.push(
    `Heartbeats it expects (${beats.length}): ${beats.map((b) => `${code(b.name)} every ≤ ${b.interval}`).join(", ") || "none"}.`,
    "",
  );
  l.push(`Watched by: ${countBy(p.watchedBy, (m) => m.watcher) || "nobody"}.`, "");
  l.push(`## Backups (${p.backups.length})`, "");
  l.push(
    ...(p.backups.length
      ? mdTable(
          ["service", "what", "capture", "schedule", "check / drill", "retention", "replicated"],
          p.backups.map((b) => [
            `**${b.service}**`,
            b.what.join(" + "),
            captureText(b.capture),
            code(b.schedule),
            `${code(b.check ?? "")} / ${code(b.drill ?? "")}`,
            retentionText(b),
            replicationText(b),
          ]),
        )
      : ["None."]),
    "",
  );
  l.push(`Replicas of peers held here: ${p.replicas.map(replicaText).join(", ") || "none"}.`, "");
  l.push(`${retainedText(p).replace(/^p/, "P")}.`, "");
  l.push("## Update policy", "");
  for (const policy of ["pinned", "notify", "auto"] as const) {
    const list = p.containers.filter((c) => c.update.policy === policy);
    if (list.length)
      l.push(`- **${policy}** (${list[0]!.update.detail}): ${list.map((c) => c.name).join(", ")}`);
  }
  l.push("", `## Warnings (${p.warnings.length})`, "");
  l.push(...(p.warnings.length ? p.warnings.map((w) => `- ⚠ ${w}`) : ["None."]));
  return l.join("\n") + "\n";
}

/** `homepage.md`: the page the homepage server will show, a table per server. */
export function homepageMarkdown(stack: string, h: HomepagePlan): string {
  const l = [
    "# homelab homepage",
    "",
    `${h.url} on **${stack}** (gethomepage), generated from every server's catalogue. [← fleet](fleet.md)`,
    "",
  ];
  for (const g of h.groups) {
    l.push(`## ${g.server} (${g.entries.length})`, "");
    l.push(
      ...mdTable(
        ["service", "description", "URL", "icon", "status check"],
        g.entries.map((e) => [
          `**${e.name}**`,
          e.description || "–",
          e.href ?? "–",
          code(e.icon ?? ""),
          e.status ? code(e.status) : "–",
        ]),
      ),
      "",
    );
  }
  return l.join("\n");
}

/** `fleet.md` */
export function fleetMarkdown(plan: Plan, mermaid: string): string {
  const l = [
    "# homelab fleet plan",
    "",
    `Evaluated offline from the real program (mock runtime, placeholder secrets); stack references settled in ${plan.fleet.rounds} round${plan.fleet.rounds === 1 ? "" : "s"}.`,
    "",
    ...mdTable(
      [
        "server",
        "role",
        "containers",
        "routes",
        "checks (own / peers)",
        "backups",
        "replicas held",
        "warnings",
      ],
      plan.plans.map((p) => {
        const checks = p.monitors.filter((m) => m.kind !== "heartbeat");
        const own = checks.filter((m) => m.target === p.stack).length;
        return [
          `[${p.stack}](${p.stack}.md)`,
          p.role,
          String(p.containers.length),
          String(p.routes.length),
          `${own} / ${checks.length - own}`,
          String(p.backups.length),
          String(p.replicas.length),
          String(p.warnings.length),
        ];
      }),
    ),
    "",
    ...plan.plans.flatMap((p) =>
      p.homepage
        ? [`Homepage: ${p.homepage.url} on ${p.stack}, [its content](homepage.md).`, ""]
        : [],
    ),
    "## Topology",
    "",
    "![fleet topology](fleet.svg)",
    "",
    "```mermaid",
    mermaid.trimEnd(),
    "```",
    "",
  ];
  return l.join("\n");
}

/** Writes every report into `dir` (`error` says why the SVG could not be drawn). */
export async function writeReports(
  plan: Plan,
  dir: string,
): Promise<{ files: string[]; error?: string }> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, content: string | Buffer) => {
    writeFileSync(join(dir, name), content);
    files.push(name);
  };
  for (const p of plan.plans) put(`${p.stack}.md`, serverMarkdown(p));
  for (const p of plan.plans)
    if (p.homepage) put("homepage.md", homepageMarkdown(p.stack, p.homepage));
  const t = topology(plan.plans);
  const dot = renderDot(t);
  put("fleet.md", fleetMarkdown(plan, renderMermaid(t)));
  put("fleet.dot", dot);
  try {
    put("fleet.svg", await renderSvg(dot));
  } catch (e) {
    return { files, error: e instanceof Error ? e.message : String(e) };
  }
  return { files };
}
