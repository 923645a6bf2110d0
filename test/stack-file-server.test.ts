/**
 * Issue 13: a server is its stack file. A `Pulumi.<name>.yaml` without a `stacks/<name>.ts` is a
 * server that runs the standard components and holds its peers' replicas; `stacks/*.ts` are
 * found when the program runs, so there is no list to edit.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { evaluateStack, reveal } from "../cli/evaluate";
import { programConfigFor } from "../lib/cli-config";
import { stackFile, stackFileNames } from "../stacks";
import { ROOT, T, headerSecrets, ofType } from "./helpers";

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of the project as a fresh clone has it (node_modules linked, as after `npm ci`). */
function cloneCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-clone-"));
  temps.push(dir);
  const tracked = spawnSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" });
  // Without git (an unpacked tarball), the folders the program and the plan need.
  const files = tracked.status === 0 ? tracked.stdout.split("\0").filter(Boolean) : [];
  const top = files.length
    ? [...new Set(files.map((f) => f.split("/")[0]!))]
    : readdirSync(ROOT).filter((f) => f !== "node_modules" && f !== ".git");
  for (const f of top) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

const sh = (dir: string, command: string) =>
  spawnSync("sh", ["-c", command], { cwd: dir, encoding: "utf8", timeout: 240_000 });

describe("a server from its stack file alone (the issue's 'Done when')", () => {
  it("sed 's/offsite/lab/g' Pulumi.offsite.yaml > Pulumi.lab.yaml && npm run plan -- lab", () => {
    const dir = cloneCopy();
    const r = sh(
      dir,
      "sed 's/offsite/lab/g' Pulumi.offsite.yaml > Pulumi.lab.yaml && npm run plan -- lab",
    );
    // A fresh clone has no secrets set: lab stops where offsite stops, at the one secret its
    // header names (acmeDnsToken, DNS-01), and at nothing else: no "no server named lab".
    const offsite = sh(dir, "npm run plan -- offsite");
    expect(r.stderr).not.toContain("no server named");
    expect(r.status).toBe(1);
    expect(offsite.status).toBe(1);
    const problems = (text: string, stack: string) =>
      text.slice(text.indexOf(`Invalid configuration for stack "${stack}"`)).split("\n\n")[0];
    expect(problems(r.stderr, "lab")).toBe(
      problems(offsite.stderr, "offsite")!.replaceAll("offsite", "lab"),
    );
    expect(problems(r.stderr, "lab")).toBe(
      'Invalid configuration for stack "lab" (Pulumi.lab.yaml), 1 problem:\n' +
        '  acmeDnsToken: required when acmeChallenge is "dns": run pulumi config set --secret acmeDnsToken <token>',
    );
    // With the secrets assumed set (what the error's last line suggests), lab is planned.
    const planned = sh(dir, "npm run plan -- --assume-secrets lab");
    expect(planned.stderr).not.toContain("Invalid configuration");
    expect(planned.status).toBe(0);
    expect(planned.stdout).toContain("homelab plan: lab (offline");
    expect(planned.stdout).toContain("━━ lab — standard components and replicas of home, cloud\n");
    expect(planned.stdout).toContain("Docker engine: ssh://deploy@lab.tail0e1f2.ts.net:22\n");
    for (const c of ["traefik", "gatus", "syncthing", "watchtower", "backup-replicas"])
      expect(planned.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    // What a later `pulumi destroy --stack lab` leaves on the host (docs/remove-a-server.md).
    expect(planned.stdout).toContain(
      "  pulumi destroy keeps (retainOnDelete; removed by hand, docs/remove-a-server.md): gatus-data, homelab-backups, traefik-acme\n",
    );
  }, 600_000);
});

describe("stacks/*.ts are found, not listed", () => {
  it("every stacks/<name>.ts but index and types is a server written in TypeScript", () => {
    expect(stackFileNames()).toEqual(["cloud", "home", "offsite"]);
    expect(typeof stackFile("home")).toBe("function");
    expect(stackFile("lab")).toBeUndefined();
    // A name is looked up among the files, never used as a path.
    expect(stackFile("../lib/program")).toBeUndefined();
    expect(stackFile("constructor")).toBeUndefined();
  });

  it("a new stacks/<name>.ts is a server without any other edit; a bad one is named", () => {
    const dir = mkdtempSync(join(tmpdir(), "homelab-stacks-"));
    temps.push(dir);
    cpSync(join(ROOT, "stacks", "types.ts"), join(dir, "types.ts"));
    writeFileSync(
      join(dir, "garage.ts"),
      'export default function garage() { return { role: "tools", services: [] }; }\n',
    );
    writeFileSync(join(dir, "broken.ts"), "export const role = 1;\n");
    expect(stackFileNames(dir)).toEqual(["broken", "garage"]);
    expect(stackFile("garage", dir)!({ domain: "x.example.com" })).toEqual({
      role: "tools",
      services: [],
    });
    expect(() => stackFile("broken", dir)).toThrow(
      'Invalid configuration for stack "broken" (Pulumi.broken.yaml), 1 problem:\n' +
        "  stack: stacks/broken.ts: expected a default export (ctx) => ServerDeclaration (see stacks/types.ts), got undefined;",
    );
  });
});

/** A project root with the reference stack files and `Pulumi.lab.yaml` made from offsite's. */
function labProject(edit: (text: string) => string = (t) => t): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-lab-"));
  temps.push(dir);
  for (const f of readdirSync(ROOT).filter((f) => /^Pulumi\.(\w+\.)?yaml$/.test(f)))
    cpSync(join(ROOT, f), join(dir, f));
  const text = readFileSync(join(ROOT, "Pulumi.offsite.yaml"), "utf8").replaceAll("offsite", "lab");
  writeFileSync(join(dir, "Pulumi.lab.yaml"), edit(text));
  return dir;
}

describe("the stack-file-only server under the mock runtime", () => {
  it("runs the standard components, its role from what it runs or from homelab:role", async () => {
    const dir = labProject();
    const config = programConfigFor(dir, "lab", { secrets: headerSecrets("offsite") });
    const e = await evaluateStack("lab", config, { quiet: true });
    const names = ofType(e, T.container)
      .map((c) => c.inputs.name)
      .sort();
    expect(names).toEqual([
      "backup-layout",
      "backup-replicas",
      "gatus",
      "syncthing",
      "traefik",
      "traefik-socket-proxy",
      "watchtower",
    ]);
    expect((reveal(e.outputs.summary) as { role: string }).role).toBe(
      "standard components and replicas of home, cloud",
    );
    const named = programConfigFor(dir, "lab", {
      secrets: headerSecrets("offsite"),
      values: { role: "the Pi in the garage" },
    });
    const e2 = await evaluateStack("lab", named, { quiet: true });
    expect((reveal(e2.outputs.summary) as { role: string }).role).toBe("the Pi in the garage");
  });
});
