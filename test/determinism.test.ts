/**
 * Determinism: the same config and the same peers give byte-identical resource inputs (secrets
 * revealed), options and outputs, so a re-run shows no diff. Labels and envs go to Docker sorted.
 */
import { describe, expect, it } from "vitest";
import { asPeerOutputs } from "../cli/evaluate";
import { STACK_NAMES, T, evaluateReference, ofType, referenceFleet, reveal } from "./helpers";

const peersOf = async () => {
  const { evaluations } = await referenceFleet();
  return Object.fromEntries(STACK_NAMES.map((s) => [s, asPeerOutputs(evaluations[s]!)]));
};

/** Everything an evaluation registered and returned, as text, secrets revealed. */
const bytes = (e: Awaited<ReturnType<typeof evaluateReference>>) =>
  JSON.stringify({
    resources: e.resources.map((r) => ({ ...r, inputs: reveal(r.inputs) })),
    outputs: reveal(e.outputs),
  });

describe("determinism", () => {
  it.each(STACK_NAMES)(
    "%s: two evaluations give byte-identical resources and outputs",
    async (stack) => {
      const peers = await peersOf();
      const first = await evaluateReference(stack, { peers });
      const second = await evaluateReference(stack, { peers });
      expect(first.resources.length).toBeGreaterThan(30);
      const a = bytes(first);
      expect(bytes(second)).toBe(a);
      // And the same as the settled fleet's evaluation of this stack.
      const { evaluations } = await referenceFleet();
      expect(bytes(evaluations[stack]!)).toBe(a);
      // Secrets are part of what is compared: the generated passwords are in the text.
      expect(a).toContain((reveal(first.outputs.credentials) as { gatus: string }).gatus);
    },
  );

  it.each(STACK_NAMES)("%s: every container's labels and envs are sorted", async (stack) => {
    const { evaluations } = await referenceFleet();
    for (const c of ofType(evaluations[stack]!, T.container)) {
      const labels = (reveal(c.inputs.labels) as { label: string }[]).map((l) => l.label);
      expect(labels, c.name).toEqual([...labels].sort());
      const envs = ((reveal(c.inputs.envs) ?? []) as string[]).map((x) => x.split("=")[0]!);
      expect(envs, c.name).toEqual([...envs].sort());
    }
  });
});
