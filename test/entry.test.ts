/**
 * index.ts itself, as Pulumi loads it: mocks and config first, then the module. Its exports are
 * the stack outputs; bad config ends the run as a RunError (message only, no stack trace).
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import { mockState } from "../cli/evaluate";
import type { ServerOutputs } from "../lib/program";
import { referenceConfig } from "./helpers";

async function loadEntry(stack: string, overrides: Record<string, unknown> = {}) {
  vi.resetModules();
  const names: string[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        names.push(`${a.type}::${a.name}`);
        // As the engine answers for a stack that exists but has no outputs yet.
        if (a.type === "pulumi:pulumi:StackReference") {
          return { id: a.inputs.name, state: { ...a.inputs, outputs: {}, secretOutputNames: [] } };
        }
        return { id: `${a.name}-id`, state: mockState(a.type, a.name, a.inputs) };
      },
      call: (a) => {
        throw new Error(`unmocked invoke ${a.token}`);
      },
    },
    "homelab",
    stack,
    false,
    "organization",
  );
  const { config, secretKeys } = referenceConfig(stack, overrides);
  pulumi.runtime.setAllConfig(config, secretKeys);
  // index.ts is `export =` (module.exports): the object of this server's outputs.
  const loaded = (await import("../index")) as unknown as { default?: Partial<ServerOutputs> };
  const mod = (loaded.default ?? loaded) as Partial<ServerOutputs>;
  // Let every registration reach the mock before asserting (and before the next test resets it).
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  return { mod, names };
}

const value = <T>(o: pulumi.Output<T>) => (o as unknown as { promise(): Promise<T> }).promise();

describe("index.ts", () => {
  it("exports the stack outputs of the configured server", async () => {
    const { mod, names } = await loadEntry("offsite");
    // No ntfy outputs on a server without ntfy: not even as undefined (the CLI warns of those).
    expect(Object.keys(mod).sort()).toEqual(
      [
        "backupPasswords",
        "backups",
        "catalogue",
        "credentials",
        "endpoints",
        "summary",
        "syncthing",
      ].sort(),
    );
    expect(mod.endpoints!.map((e) => e.name)).toEqual(["gatus", "syncthing", "traefik"]);
    expect(await value(mod.summary!)).toMatchObject({
      server: "offsite",
      role: "backup replicas only",
    });
    expect(await pulumi.isSecret(mod.backupPasswords!)).toBe(true);
    expect(names).toContain("pulumi:providers:docker::offsite-docker");
  });

  it("bad config stops the program with a RunError listing the problems", async () => {
    // An integer, so the CLI passes it (ValidateConfigValue); out of range for the program.
    const err = await loadEntry("offsite", { sshPort: 70000 }).catch((e: unknown) => e);
    expect(pulumi.RunError.isInstance(err)).toBe(true);
    expect((err as Error).message).toBe(
      'Invalid configuration for stack "offsite" (Pulumi.offsite.yaml), 1 problem:\n  sshPort: expected an integer 1-65535, got "70000"',
    );
  });
});
