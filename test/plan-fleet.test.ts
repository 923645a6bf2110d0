/**
 * The fixpoint of stack references (cli/fleet.ts): rounds, which stacks each round
 * re-evaluates, referenced and missing stacks, and a fleet that never settles. First with a
 * scripted evaluator, then with the real program for the mutual home ↔ cloud references.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Evaluation, PeerOutputs, asPeerOutputs } from "../cli/evaluate";
import { FleetError, evaluateFleet, withoutDiagnostics } from "../cli/fleet";
import { container, evaluateReference, referenceFleet, uploadOf } from "./helpers";

/** A scripted stack: its references and how its one output `n` follows from its peers'. */
type Script = Record<
  string,
  { refs: string[]; n: (peer: (s: string) => number | undefined) => number }
>;

function scripted(script: Script) {
  const calls: string[] = [];
  const evaluate = async (stack: string, peers: PeerOutputs): Promise<Evaluation> => {
    calls.push(stack);
    const s = script[stack]!;
    const peer = (p: string) => peers[p]?.outputs.n as number | undefined;
    return {
      stack,
      resources: [],
      outputs: { n: s.n(peer) },
      warnings: [],
      references: s.refs.map((r) => `organization/homelab/${r}`),
    };
  };
  return { calls, evaluate };
}

describe("evaluateFleet with a scripted program", () => {
  // a and b reference each other and need two exchanges to agree; c follows a; d is alone.
  const script: Script = {
    a: { refs: ["b"], n: (p) => Math.min((p("b") ?? 0) + 1, 2) },
    b: { refs: ["a"], n: (p) => p("a") ?? 0 },
    c: { refs: ["a"], n: (p) => (p("a") ?? 0) * 10 },
    d: { refs: [], n: () => 7 },
  };

  it("re-evaluates, each round, only the stacks whose peers' outputs changed", async () => {
    const { calls, evaluate } = scripted(script);
    const f = await evaluateFleet({
      stacks: ["a", "b", "c", "d"],
      known: ["a", "b", "c", "d"],
      evaluate,
    });
    expect(f.log).toEqual([
      { round: 1, stacks: ["a", "b", "c", "d"] },
      { round: 2, stacks: ["a", "b", "c"] },
      { round: 3, stacks: ["a"] },
    ]);
    expect(f.rounds).toBe(3);
    expect(calls).toHaveLength(8);
    expect(
      Object.fromEntries(Object.values(f.evaluations).map((e) => [e.stack, e.outputs.n])),
    ).toEqual({
      a: 2,
      b: 2,
      c: 20,
      d: 7,
    });
    expect(f.missing).toEqual([]);
  });

  it("evaluates the stacks a planned stack references, and reports references nothing serves", async () => {
    const { calls, evaluate } = scripted({
      ...script,
      c: { refs: ["a", "ghost"], n: (p) => p("a") ?? 0 },
    });
    const f = await evaluateFleet({ stacks: ["c"], known: ["a", "b", "c"], evaluate });
    expect(Object.keys(f.evaluations)).toEqual(["c", "a", "b"]);
    expect(calls).not.toContain("ghost");
    expect(f.missing).toEqual([{ stack: "c", peer: "ghost" }]);
  });

  it("stops with an error when the references never settle", async () => {
    const { evaluate } = scripted({
      a: { refs: ["b"], n: (p) => (p("b") ?? 0) + 1 },
      b: { refs: ["a"], n: (p) => p("a") ?? 0 },
    });
    const run = evaluateFleet({ stacks: ["a", "b"], known: ["a", "b"], evaluate, maxRounds: 4 });
    await expect(run).rejects.toThrow(FleetError);
    await expect(run).rejects.toThrow(
      "the stack references did not settle in 4 rounds: a still changes with its peers' outputs",
    );
  });

  it("collects the failure of every stack of a round before giving up", async () => {
    const evaluate = async (stack: string): Promise<Evaluation> => {
      throw new Error(`${stack} is broken`);
    };
    const run = evaluateFleet({ stacks: ["a", "b"], known: ["a", "b"], evaluate });
    await expect(run).rejects.toThrow("a is broken\n\nb is broken");
  });
});

describe("evaluateFleet with the real program", () => {
  const gatusGroups = (e: Evaluation) => {
    const cfg = parse(uploadOf(container(e, "gatus"), "/config/config.yaml").content) as {
      endpoints: { group: string }[];
    };
    return [...new Set(cfg.endpoints.map((x) => x.group))].sort();
  };

  it("settles the mutual references of home and cloud; offsite, without config, is a first deployment", async () => {
    const f = await evaluateFleet({
      stacks: ["home", "cloud"],
      known: ["home", "cloud"],
      evaluate: (s, peers) => evaluateReference(s, { peers }),
    });
    // Round 2 re-evaluates home only: cloud's outputs appeared after home's first evaluation,
    // while home's outputs (which cloud read in round 1) did not change.
    expect(f.log).toEqual([
      { round: 1, stacks: ["home", "cloud"] },
      { round: 2, stacks: ["home"] },
    ]);
    expect(f.missing).toEqual([
      { stack: "home", peer: "offsite" },
      { stack: "cloud", peer: "offsite" },
    ]);
    const { home, cloud } = f.evaluations as Record<string, Evaluation>;
    expect(gatusGroups(home!)).toEqual(["cloud", "home"]);
    expect(gatusGroups(cloud!)).toEqual(["cloud", "home"]);
    expect(home!.warnings).toContain(
      'peer "offsite" has no outputs: it is not deployed yet. Deploy it (`pulumi up --stack offsite`), then run `pulumi up --stack home` again; until then nothing of it is watched or replicated.',
    );
    expect(home!.warnings.join("\n")).not.toMatch(/peer "cloud"/);
  });

  it("is a fixpoint: every stack evaluated again with the settled outputs registers the same", async () => {
    const { evaluations, rounds } = await referenceFleet();
    expect(rounds).toBe(2);
    const peers = Object.fromEntries(
      Object.values(evaluations).map((e) => [e.stack, asPeerOutputs(e)]),
    );
    for (const e of Object.values(evaluations)) {
      const again = await evaluateReference(e.stack, { peers });
      expect(JSON.stringify(again), e.stack).toBe(JSON.stringify(e));
    }
  });
});

describe("withoutDiagnostics", () => {
  it("registers exactly what a normal evaluation registers, and restores the SDK afterwards", async () => {
    const pulumi = await import("@pulumi/pulumi");
    // Internal to the SDK (not in its typings); every internal promise passes through it.
    const debuggable = (await import("@pulumi/pulumi/runtime/debuggable")) as unknown as {
      debuggablePromise: unknown;
    };
    const resource = pulumi.Resource as unknown as { callsites: () => unknown[] };
    const before = {
      limit: Error.stackTraceLimit,
      callsites: resource.callsites,
      track: debuggable.debuggablePromise,
    };
    const { evaluations } = await referenceFleet();
    const peers = Object.fromEntries(
      Object.values(evaluations).map((e) => [e.stack, asPeerOutputs(e)]),
    );
    const plain = await evaluateReference("home", { peers });
    const lean = await withoutDiagnostics(async () => {
      expect(Error.stackTraceLimit).toBe(0);
      expect(resource.callsites()).toEqual([]);
      expect(debuggable.debuggablePromise).not.toBe(before.track);
      return evaluateReference("home", { peers });
    });
    expect(JSON.stringify(lean)).toBe(JSON.stringify(plain));
    expect(Error.stackTraceLimit).toBe(before.limit);
    expect(resource.callsites).toBe(before.callsites);
    expect(debuggable.debuggablePromise).toBe(before.track);
  });
});
