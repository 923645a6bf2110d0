/**
 * The bootstrap's SSH login: the host key it pins, and what re-runs the script. How the real
 * tools behave, from their sources:
 * - pulumi-command parses `connection.hostKey` with Go's ssh.ParseAuthorizedKey and connects
 *   only to a host presenting exactly that key (ssh.FixedHostKey); without it any key is taken
 *   (ssh.InsecureIgnoreHostKey): github:pulumi/pulumi-command
 *   provider/pkg/provider/remote/connection.go:86-97.
 * - A change of any input runs `update` (or, without one, `create` again); a change of a trigger
 *   replaces the resource, which runs `create`: commandController.go:63-81, and the
 *   replaceOnChanges on `triggers[*]` the SDK adds (node_modules/@pulumi/command/remote/command.js).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Evaluation, RegisteredResource, Secret } from "../cli/evaluate";
import { LOGIN_CHECK } from "../components/bootstrap";
import { ConfigError } from "../lib/config";
import { loadStackConfig } from "../lib/program";
import { referenceRaw } from "./fixtures/broken";
import { ROOT, STACK_NAMES, evaluateReference } from "./helpers";
import { lacks } from "./tools";

const COMMAND = "command:remote:Command";
const run = (e: Evaluation): RegisteredResource => {
  const r = e.resources.find((x) => x.type === COMMAND && x.name === `${e.stack}-bootstrap-run`);
  if (!r) throw new Error(`no bootstrap in ${e.stack}`);
  return r;
};
const connection = (r: RegisteredResource) =>
  (r.inputs.connection as Secret).value as Record<string, unknown>;
const fileKey = (stack: string) =>
  (
    parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")).config as Record<string, string>
  )["homelab:hostKey"];

describe("the host key", () => {
  it.each(STACK_NAMES)(
    "%s: the stack file's key is pinned on the bootstrap's connection",
    async (s) => {
      const e = await evaluateReference(s);
      expect(connection(run(e)).hostKey).toBe(fileKey(s));
      expect(e.warnings.filter((w) => w.includes("host key"))).toEqual([]);
    },
  );

  it.skipIf(lacks("ssh-keygen")).each(STACK_NAMES)(
    "%s: the key in the stack file is one OpenSSH itself reads",
    (s) => {
      const dir = mkdtempSync(join(tmpdir(), "homelab-hostkey-"));
      try {
        writeFileSync(join(dir, "key.pub"), `${fileKey(s)}\n`);
        const r = spawnSync("ssh-keygen", ["-l", "-f", join(dir, "key.pub")], { encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^256 SHA256:\S+ .*\(ED25519\)\n$/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("without one: no key is checked, and the run says how to get it", async () => {
    const e = await evaluateReference("cloud", { overrides: { hostKey: undefined } });
    expect(connection(run(e))).not.toHaveProperty("hostKey");
    expect(e.warnings).toContain(
      "the bootstrap of cloud does not check the SSH host key of cloud.example.com: set homelab:hostKey to the key `ssh-keyscan -t ed25519 cloud.example.com` prints after the host name.",
    );
  });

  it("a known_hosts line, as ssh-keyscan prints it, is taken without its host", () => {
    const key = fileKey("home")!;
    const c = loadStackConfig(
      "home",
      referenceRaw("home", { hostKey: `home.tail0e1f2.ts.net ${key}` }),
    );
    expect(c.config.bootstrap.hostKey).toBe(key);
  });

  it.each([
    ["a bare word", "AAAAC3NzaC1lZDI1NTE5"],
    ["an unknown key type", "ssh-dss AAAAB3NzaC1kc3MAAACBAP"],
    // pulumi-command would offer only ssh-rsa (SHA-1) for it, which OpenSSH 8.8+ refuses.
    ["an RSA key", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7"],
    ["a key that is not base64", "ssh-ed25519 not-a-key"],
  ])("refuses %s, naming the key and the fix", (_name, value) => {
    let error: unknown;
    try {
      loadStackConfig("home", referenceRaw("home", { hostKey: value }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(
      `hostKey: expected an SSH public key like "ssh-ed25519 AAAA…" (ssh-keyscan -t ed25519 <host>), got ${JSON.stringify(value)}`,
    );
  });
});

describe("what re-runs the script", () => {
  const triggersOf = async (overrides: Record<string, unknown>) =>
    run(await evaluateReference("offsite", { overrides })).inputs.triggers;

  it("a changed login only logs in again (update is a no-op command)", async () => {
    const e = await evaluateReference("offsite");
    expect(run(e).inputs.update).toBe(LOGIN_CHECK);
    expect(run(e).inputs.create).toBe("sudo -n sh -s");
    const base = await triggersOf({});
    expect(await triggersOf({ bootstrapUser: "admin" })).toEqual(base);
    expect(await triggersOf({ hostKey: fileKey("home") })).toEqual(base);
  });

  it("another machine (host or port) or another script re-runs it", async () => {
    const base = (await triggersOf({})) as string[];
    expect(base).toHaveLength(2);
    expect(base[1]).toBe("offsite.tail0e1f2.ts.net:22");
    const moved = (await triggersOf({ host: "pi.example.net" })) as string[];
    expect(moved[0]).toBe(base[0]);
    expect(moved[1]).toBe("pi.example.net:22");
    expect(((await triggersOf({ sshPort: 2222 })) as string[])[1]).toBe(
      "offsite.tail0e1f2.ts.net:2222",
    );
    // The script renders the deploy user in: another user, another script.
    expect(((await triggersOf({ sshUser: "ops" })) as string[])[0]).not.toBe(base[0]);
  });
});
