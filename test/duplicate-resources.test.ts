/**
 * Two resources of one type and name fail the evaluation (issue 11, item 5). The engine refuses
 * a second registration of one URN ("Duplicate resource URN '…'; try giving it a unique name",
 * github:pulumi/pulumi sdk/go/common/diag/errors.go:33); Pulumi's mock runtime accepts it. Here
 * the config parser is bypassed on purpose (the ntfy user of the attack reaches the program as
 * if the parser let it through), so this proves the evaluation's own check.
 */
import { describe, expect, it, vi } from "vitest";
import { DuplicateResourceError } from "../cli/evaluate";
import { evaluateReference } from "./helpers";

vi.mock("../lib/config", async (importOriginal) => {
  const m = await importOriginal<typeof import("../lib/config")>();
  return {
    ...m,
    parseStackConfig: (...args: Parameters<typeof m.parseStackConfig>) => {
      const c = m.parseStackConfig(...args);
      if (process.env.HOMELAB_TEST_SMUGGLE === "1")
        c.ntfy.access.push({ user: "publisher-home", topic: "*", permission: "read-write" });
      return c;
    },
  };
});

describe("an evaluation that registers two resources with one type and name", () => {
  it("fails, naming both", async () => {
    process.env.HOMELAB_TEST_SMUGGLE = "1";
    try {
      const err = await evaluateReference("cloud").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DuplicateResourceError);
      expect((err as Error).message).toBe(
        'stack "cloud" registers a resource twice: random:index/randomPassword:RandomPassword named cloud-ntfy-password-publisher-home. Two declarations produce the same name: rename one.',
      );
    } finally {
      delete process.env.HOMELAB_TEST_SMUGGLE;
    }
  });

  it("the reference stack itself registers every resource once", async () => {
    const e = await evaluateReference("cloud");
    const keys = e.resources.map((r) => `${r.type}::${r.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
