/**
 * Issue 13: the fleet from three servers to four and back to three, as the runbooks do it
 * (docs/add-a-server.md, docs/remove-a-server.md), each step evaluated as a whole fleet under
 * mocks (evaluateFleet, peers' outputs through stack references until they settle).
 *
 * 1. three: home, cloud, offsite as committed;
 * 2. four: Pulumi.lab.yaml (no stacks/lab.ts) and `lab` in the others' peers, the only edits;
 * 3. lab taken out of the others' peers while its stack still exists (before its destroy);
 * 4. three again: Pulumi.lab.yaml gone.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Evaluation, reveal } from "../cli/evaluate";
import { evaluateFleet, fileEvaluator } from "../cli/fleet";
import { ServerPlan, serverPlans } from "../cli/report-model";
import { ROOT, STACK_NAMES, T, ofType } from "./helpers";

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * lab: offsite's stack file renamed, with offsite as a third peer, trusted with keys, running
 * one service of its own.
 */
const LAB = readFileSync(join(ROOT, "Pulumi.offsite.yaml"), "utf8")
  .replaceAll("offsite", "lab")
  .replace("homelab:backupReplicateTo: []", 'homelab:backupReplicateTo: ["*"]')
  .replace("homelab:trust: storage", "homelab:trust: full")
  .replace("    - cloud\n", "    - cloud\n    - offsite\n")
  .concat(
    [
      "  homelab:services:",
      "    notes:",
      "      image: ghcr.io/hedgedoc/hedgedoc:1.10.3",
      "      http: { port: 3000, subdomain: notes, healthPath: /status }",
      "      volumes: [{ name: uploads, path: /hedgedoc/public/uploads }]",
      "      backup: { capture: files }",
      "",
    ].join("\n"),
  );

/** A project root with these stack files; `withLab` adds lab to every other server's peers. */
function project(o: { labFile: boolean; labPeer: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-walk-"));
  temps.push(dir);
  cpSync(join(ROOT, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
  for (const s of STACK_NAMES) {
    let text = readFileSync(join(ROOT, `Pulumi.${s}.yaml`), "utf8");
    // The one edit per peer: one more line in its peers list.
    if (o.labPeer) text = text.replace(/( {2}homelab:peers:\n(?: {4}- .+\n)+)/, "$1    - lab\n");
    writeFileSync(join(dir, `Pulumi.${s}.yaml`), text);
  }
  if (o.labFile) writeFileSync(join(dir, "Pulumi.lab.yaml"), LAB);
  return dir;
}

async function fleet(dir: string, stacks: string[]) {
  const f = await evaluateFleet({
    stacks,
    known: stacks,
    evaluate: fileEvaluator(dir, { assumeSecrets: true, quiet: true }),
  });
  const plans = Object.fromEntries(serverPlans(f).map((p) => [p.stack, p]));
  return { evaluations: f.evaluations, plans };
}
type Step = Awaited<ReturnType<typeof fleet>>;

const containerNames = (e: Evaluation) =>
  ofType(e, T.container)
    .map((c) => String(c.inputs.name))
    .sort();
/** Every resource with its inputs and options, secrets revealed, as comparable text. */
const everything = (e: Evaluation) =>
  e.resources.map((r) => JSON.stringify([r.type, r.name, reveal(r.inputs), r.options])).sort();
const watchers = (p: ServerPlan) => [...new Set(p.watchedBy.map((m) => m.watcher))].sort();
const THREE = [...STACK_NAMES].sort();

describe("three servers, four, three again", () => {
  let three: Step;
  let four: Step;
  let leaving: Step;
  let again: Step;
  beforeAll(async () => {
    three = await fleet(project({ labFile: false, labPeer: false }), THREE);
    four = await fleet(project({ labFile: true, labPeer: true }), [...THREE, "lab"]);
    leaving = await fleet(project({ labFile: true, labPeer: false }), [...THREE, "lab"]);
    again = await fleet(project({ labFile: false, labPeer: false }), THREE);
  }, 600_000);

  it("three: nobody knows lab", () => {
    expect(Object.keys(three.evaluations).sort()).toEqual(THREE);
    for (const s of THREE) expect(everything(three.evaluations[s]!).join()).not.toMatch(/\blab\b/);
  });

  it("four: lab runs the standard components and its service from its stack file alone", () => {
    expect(containerNames(four.evaluations.lab!)).toEqual([
      "backup-layout",
      "backup-replicas",
      "gatus",
      "notes",
      "notes-backup",
      "syncthing",
      "traefik",
      "traefik-socket-proxy",
      "watchtower",
    ]);
    expect(four.plans.lab!.warnings).toEqual([]);
    expect(four.plans.lab!.role).toBe("notes and replicas of home, cloud, offsite");
  });

  it("four: every peer watches lab, and lab watches every peer", () => {
    expect(watchers(four.plans.lab!)).toEqual(THREE);
    for (const s of THREE) {
      const mine = four.plans[s]!.monitors.filter((m) => m.target === "lab").map((m) => m.name);
      expect(mine, s).toEqual(["gatus", "notes", "syncthing", "traefik"]);
    }
    expect(watchers(four.plans.home!)).toContain("lab");
  });

  it("four: lab's backup is replicated to its peers and theirs to lab (with keys: trust full)", () => {
    const notes = four.plans.lab!.backups.find((b) => b.service === "notes")!;
    expect(notes.replicatedTo).toEqual(["cloud", "home", "offsite"]);
    expect(notes.verifiedBy).toEqual(["cloud", "home"]);
    expect(notes.verifiedWithoutKey).toEqual(["offsite"]);
    expect(four.plans.home!.replicas.map((r) => `${r.origin}/${r.service}`)).toContain("lab/notes");
    const held = four.plans.lab!.replicas.map((r) => `${r.origin}/${r.service}:${r.withKey}`);
    expect(held).toEqual(
      expect.arrayContaining(["home/immich:true", "home/vaultwarden:true", "cloud/mail:true"]),
    );
    // What the peers run changed only where lab is concerned.
    for (const s of THREE) {
      const before = new Set(everything(three.evaluations[s]!));
      const changed = everything(four.evaluations[s]!).filter((r) => !before.has(r));
      expect(changed.length, s).toBeGreaterThan(0);
      for (const r of changed) expect(r, s).toMatch(/\blab\b/);
    }
  });

  it("four: pulumi destroy of lab would keep its data, and the plan says so", () => {
    expect(four.plans.lab!.retained).toEqual([
      "gatus-data",
      "homelab-backups",
      "notes-uploads",
      "traefik-acme",
    ]);
    const volume = ofType(four.evaluations.lab!, T.volume).find(
      (v) => v.inputs.name === "homelab-backups",
    )!;
    expect(volume.options.retainOnDelete).toBe(true);
  });

  it("taking lab out of the peers: they stop watching and replicating to it at once", () => {
    for (const s of THREE)
      expect(everything(leaving.evaluations[s]!), s).toEqual(everything(three.evaluations[s]!));
    // lab, still up until its destroy, is told nothing of theirs and is watched by nobody.
    expect(leaving.plans.lab!.replicas).toEqual([]);
    expect(leaving.plans.lab!.watchedBy).toEqual([]);
    // Its volumes (with the replicas it held) stay, until removed on purpose.
    expect(leaving.plans.lab!.retained).toContain("homelab-backups");
  });

  it("three again: exactly the fleet before lab", () => {
    expect(Object.keys(again.evaluations).sort()).toEqual(THREE);
    for (const s of THREE) {
      expect(everything(again.evaluations[s]!), s).toEqual(everything(three.evaluations[s]!));
      expect(again.evaluations[s]!.outputs, s).toEqual(three.evaluations[s]!.outputs);
    }
  });
});
