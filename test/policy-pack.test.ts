/**
 * The guardrails as a Pulumi policy pack (policy/): the pack is started the way
 * `pulumi preview --policy-pack policy` starts it and driven over gRPC the way the engine drives
 * it (test/engine/analyzer.ts), with the resources of the mock evaluation (cli/evaluate.ts) and
 * of the stand-in engine (test/engine/engine.ts). The reference stacks pass; a broken one is
 * refused by a mandatory policy whose message is the guardrail's finding.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Evaluation, RegisteredResource, asPeerOutputs } from "../cli/evaluate";
import { GUARDRAILS, GuardrailId, formatFinding } from "../lib/guardrails";
import { POLICY_LIMITS, evaluationOf } from "../lib/guardrails/policy";
import { programConfigFor, readProjectFile } from "../lib/cli-config";
import { NOT_EVALUATED_POLICY, PACK_NAME, guardrailPolicies } from "../policy/policies";
import { AnalyzeResult, PolicyPackProcess, startPolicyPack } from "./engine/analyzer";
import { Unknown, asEvaluation, runProgram } from "./engine/engine";
import {
  broken,
  dockerContainer,
  editEnvs,
  referenceIntent,
  resource,
  setLabel,
} from "./fixtures/broken";
import { ROOT, STACK_NAMES, T, headerSecrets, referenceConfig, referenceFleet } from "./helpers";

const PACK = join(ROOT, "policy");
const IDS = Object.keys(GUARDRAILS) as GuardrailId[];
type Fleet = Record<string, Evaluation>;

/** One pack process per stack: the host gives each its own stack's config (PULUMI_CONFIG). */
const packs: Record<string, PolicyPackProcess> = {};

beforeAll(async () => {
  const started = await Promise.all(
    STACK_NAMES.map((s) =>
      startPolicyPack({ dir: PACK, stack: s, config: referenceConfig(s), dryRun: false }),
    ),
  );
  STACK_NAMES.forEach((s, i) => (packs[s] = started[i]!));
}, 240_000);

afterAll(() => Object.values(packs).forEach((p) => p.stop()));

const mandatory = (r: AnalyzeResult) =>
  r.diagnostics.filter((d) => d.level === "mandatory").map((d) => d.message);

/** The message @pulumi/policy gives a violation: the policy's description, a newline, ours. */
function expectedMessages(e: Evaluation, id: GuardrailId, fleet: Fleet): string[] {
  const description = guardrailPolicies().find((p) => p.name === id)!.description;
  const intent = referenceIntent();
  return GUARDRAILS[id](e, { fleet: { [e.stack]: fleet[e.stack]! }, intent })
    .map(formatFinding)
    .map((f) => `${description}\n${f}`);
}

describe("the pack as Pulumi loads it", () => {
  it("serves one mandatory policy per guardrail and one advisory note", async () => {
    const info = await packs.home!.info();
    expect(info.name).toBe(PACK_NAME);
    expect(info.policies).toEqual([
      ...IDS.map((name) => ({ name, level: "mandatory" })),
      { name: NOT_EVALUATED_POLICY, level: "advisory" },
    ]);
  });
});

describe("the reference stacks (mock evaluation)", () => {
  it.each(STACK_NAMES)("%s passes every mandatory policy", async (stack) => {
    const { evaluations } = await referenceFleet();
    const r = await packs[stack]!.analyzeStack(evaluations[stack]!.resources, stack);
    expect(mandatory(r)).toEqual([]);
    // What the pack cannot decide is said, not passed: the fleet and secret checks are not
    // applicable (with the reason), and every data volume's retainOnDelete is advisory.
    expect(r.notApplicable.map((n) => n.policy).sort()).toEqual(
      IDS.filter((id) => ["fleet", "secrets"].includes(POLICY_LIMITS[id].kind)).sort(),
    );
    for (const n of r.notApplicable) expect(n.reason).toMatch(/npm run plan -- --strict/);
    const advisory = r.diagnostics.filter((d) => d.level === "advisory");
    expect(advisory.every((d) => d.policy === NOT_EVALUATED_POLICY)).toBe(true);
    const notes = advisory.map((d) => d.message.split("\n")[1]!.split(":")[0]);
    expect([...new Set(notes)].sort()).toEqual(
      [
        "data-volume-retained",
        ...IDS.filter((id) => ["fleet", "secrets"].includes(POLICY_LIMITS[id].kind)),
      ].sort(),
    );
    const dataVolumes = evaluations[stack]!.resources.filter(
      (r) =>
        r.type === T.volume &&
        (r.inputs.labels as { label: string; value: string }[]).some(
          (l) => l.label === "homelab.kind" && l.value === "data",
        ),
    );
    const retainNote = advisory.find((d) => d.message.includes("\ndata-volume-retained: "));
    for (const v of dataVolumes) expect(retainNote?.message).toContain(`Volume ${v.name}`);
  });
});

/** [check, stack, what breaks, the break, a phrase the guardrail's message holds]. */
const BROKEN: [GuardrailId, string, string, (f: Fleet) => void, string][] = [
  [
    "delete-before-replace",
    "cloud",
    "a named container without deleteBeforeReplace",
    (f) => void delete dockerContainer(f.cloud!, "mail").options.deleteBeforeReplace,
    "set deleteBeforeReplace: true",
  ],
  [
    "docker-socket",
    "home",
    "a service that mounts the Docker socket",
    (f) => {
      dockerContainer(f.home!, "vaultwarden").inputs.volumes = [
        { hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" },
      ];
    },
    "which only the read-only socket proxies (of Traefik and of backup jobs) and Watchtower may hold",
  ],
  [
    "restart-and-logs",
    "offsite",
    "a container that stays down after a reboot",
    (f) => void delete dockerContainer(f.offsite!, "syncthing").inputs.restart,
    'restart policy is "no"',
  ],
  [
    "no-latest",
    "home",
    "a stateful service on latest",
    (f) => {
      const c = dockerContainer(f.home!, "vaultwarden");
      c.inputs.image = "vaultwarden/server:latest";
    },
    "a moving tag",
  ],
  [
    "data-volume-retained",
    "home",
    "a volume without a kind label (decidable without retainOnDelete)",
    (f) => void (resource(f.home!, T.volume, "home-syncthing-index").inputs.labels = []),
    "has no homelab.kind label",
  ],
  [
    "docker-socket",
    "cloud",
    "a Watchtower that recreates containers",
    (f) =>
      editEnvs(dockerContainer(f.cloud!, "watchtower"), (l) =>
        l.map((x) => x.replace("WATCHTOWER_MONITOR_ONLY=true", "WATCHTOWER_MONITOR_ONLY=false")),
      ),
    "WATCHTOWER_MONITOR_ONLY is not",
  ],
  [
    "admin-auth",
    "cloud",
    "an admin UI (declared in stacks/cloud.ts, read from the stack config) without its login",
    (f) =>
      setLabel(
        dockerContainer(f.cloud!, "mail"),
        "traefik.http.routers.mail.middlewares",
        "secure-headers@file",
      ),
    '"mail" is an admin UI (http.admin)',
  ],
];

describe("a broken stack is refused with the guardrail's message", () => {
  it.each(BROKEN)("%s on %s: %s", async (id, stack, _what, edit, phrase) => {
    const { evaluations } = await referenceFleet();
    const fleet = broken(evaluations, edit);
    const r = await packs[stack]!.analyzeStack(fleet[stack]!.resources, stack);
    const refused = r.diagnostics.filter((d) => d.level === "mandatory");
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((d) => d.policy === id)).toBe(true);
    expect(refused.map((d) => d.message)).toEqual(expectedMessages(fleet[stack]!, id, fleet));
    expect(refused.map((d) => d.message).join("\n")).toContain(phrase);
    // The violation is attached to the resource at fault.
    for (const d of refused) expect(d.urn).toMatch(/^urn:pulumi:[a-z]+::homelab::.+::/);
  });

  it("without the stack's config, admin-auth says it could not run instead of passing", async () => {
    const { evaluations } = await referenceFleet();
    const pack = await startPolicyPack({ dir: PACK, stack: "cloud", dryRun: false });
    try {
      const r = await pack.analyzeStack(evaluations.cloud!.resources, "cloud");
      expect(mandatory(r)).toEqual([]);
      const note = r.diagnostics.find((d) => d.message.includes("\nadmin-auth: "));
      expect(note?.level).toBe("advisory");
      expect(r.notApplicable.map((n) => n.policy)).toContain("admin-auth");
      expect(note?.message).toContain(
        "admin-auth: not evaluated: the stack's intent (gatusPublic, http.admin) could not be read from its config: PULUMI_CONFIG is not set",
      );
    } finally {
      pack.stop();
    }
  }, 180_000);

  it("a data volume the pack cannot see retained is advisory, not passed", async () => {
    const { evaluations } = await referenceFleet();
    // What the engine sends is the same whether or not retainOnDelete is set (the proto has no
    // field for it): dropping it changes nothing the pack sees, and the pack says so.
    const fleet = broken(evaluations, (f) => {
      resource(f.home!, T.volume, "home-vaultwarden-data").options.retainOnDelete = false;
    });
    const r = await packs.home!.analyzeStack(fleet.home!.resources, "home");
    expect(mandatory(r)).toEqual([]);
    const note = r.diagnostics.find((d) => d.message.includes("\ndata-volume-retained: "));
    expect(note?.level).toBe("advisory");
    expect(note?.message).toContain("Volume home-vaultwarden-data");
    expect(note?.message).toContain("the engine does not send retainOnDelete");
  });
});

describe("the stand-in engine's resources (the program run through Pulumi's entry point)", () => {
  const PROJECT = readProjectFile(ROOT);
  // The SSO server (cloud) goes up first (deploy/fleet.ts deployOrder): before it, a server's
  // admin routes have no forward auth, which the admin-auth guardrail refuses under SSO.
  const engineRun = async (stack: string) =>
    runProgram({
      root: ROOT,
      project: PROJECT,
      stack,
      config: programConfigFor(ROOT, stack, { secrets: headerSecrets(stack) }),
      dryRun: false,
      stacks: {
        ...Object.fromEntries(STACK_NAMES.map((s) => [s, null])),
        cloud: asPeerOutputs((await referenceFleet()).evaluations.cloud!),
      },
    });

  it("offsite as `pulumi up` registers it passes; broken, it is refused", async () => {
    const run = await engineRun("offsite");
    expect(run.errors).toEqual([]);
    const ok = await packs.offsite!.analyzeStack(run.resources, "offsite");
    expect(mandatory(ok)).toEqual([]);
    const e = asEvaluation(run);
    const fleet = broken({ offsite: e }, (f) => {
      delete dockerContainer(f.offsite!, "traefik").options.deleteBeforeReplace;
    });
    const refused = await packs.offsite!.analyzeStack(fleet.offsite!.resources, "offsite");
    expect(mandatory(refused)).toEqual(
      expectedMessages(fleet.offsite!, "delete-before-replace", fleet),
    );
    expect(mandatory(refused)).toHaveLength(1);
  }, 180_000);
});

describe("a preview, where the engine does not know every value yet", () => {
  it("a policy that reads an unknown value is reported as not run, never as passed", async () => {
    // A new stack's preview: every password is new, so every uploaded file and env that holds
    // one is unknown; @pulumi/policy then reports a policy that reads it as advisory "can't run
    // … during preview" (server.js, UnknownValueError). The update after it runs them on the
    // final outputs.
    const PROJECT = readProjectFile(ROOT);
    const run = await runProgram({
      root: ROOT,
      project: PROJECT,
      stack: "offsite",
      config: programConfigFor(ROOT, "offsite", { secrets: headerSecrets("offsite") }),
      dryRun: true,
      stacks: Object.fromEntries(STACK_NAMES.map((s) => [s, null])),
    });
    expect(run.errors).toEqual([]);
    const pack = await startPolicyPack({
      dir: PACK,
      stack: "offsite",
      config: referenceConfig("offsite"),
      dryRun: true,
    });
    try {
      const r = await pack.analyzeStack(run.resources, "offsite");
      expect(mandatory(r)).toEqual([]);
      const notRun = r.diagnostics.filter((d) => /^can't run policy /.test(d.message));
      expect(notRun.every((d) => d.level === "advisory")).toBe(true);
      expect(notRun.map((d) => d.message)).toContain(
        "can't run policy 'no-latest' from policy pack 'homelab-guardrails@v0.1.0' during preview: string value at .uploads can't be known during preview",
      );
      // Every policy either ran (it reports nothing or a violation), was not applicable with
      // its reason, or says it could not run: none is silently skipped.
      const ran = guardrailPolicies()
        .map((p) => p.name)
        .filter(
          (n) =>
            !notRun.some((d) => d.policy === n) && !r.notApplicable.some((x) => x.policy === n),
        );
      expect(ran).toEqual(["data-volume-retained", "delete-before-replace"]);
    } finally {
      pack.stop();
    }
  }, 180_000);
});

describe("the preview of an image bump (a deployed stack, one new tag)", () => {
  // The stand-in engine as `pulumi up` left the stack: every value known. The preview of a new
  // tag replaces the container's RemoteImage, so the container's `image` (the new image ID) is
  // unknown; everything else keeps its known outputs.
  const bump = async (tag: string) => {
    const run = await runProgram({
      root: ROOT,
      project: readProjectFile(ROOT),
      stack: "home",
      config: programConfigFor(ROOT, "home", { secrets: headerSecrets("home") }),
      dryRun: false,
      stacks: {
        ...Object.fromEntries(STACK_NAMES.map((s) => [s, null])),
        cloud: asPeerOutputs((await referenceFleet()).evaluations.cloud!),
      },
    });
    expect(run.errors).toEqual([]);
    const fleet = broken({ home: asEvaluation(run) }, (f) => {
      const c = dockerContainer(f.home!, "vaultwarden");
      // The SDK sends the container's dependency on its RemoteImage (it reads its imageId).
      expect(c.options.dependsOn).toContain(`${c.name}-image`);
      c.inputs.image = new Unknown();
      const img = resource(f.home!, T.image, `${c.name}-image`);
      img.inputs.name = String(img.inputs.name).replace(/:[^:/]+$/, `:${tag}`);
    });
    return packs.home!.analyzeStack(fleet.home!.resources, "home");
  };

  it("every policy runs on the reference the container will run: a new version tag passes", async () => {
    const r = await bump("1.35.0");
    expect(r.diagnostics.filter((d) => /^can't run policy /.test(d.message))).toEqual([]);
    expect(mandatory(r)).toEqual([]);
  }, 180_000);

  it("a bump to latest of a container that holds data is refused at preview", async () => {
    const r = await bump("latest");
    const refused = r.diagnostics.filter((d) => d.level === "mandatory");
    expect(refused.map((d) => d.policy)).toEqual(["no-latest"]);
    expect(refused[0]!.message).toContain(
      `[no-latest] home: Container home-vaultwarden-container ("vaultwarden"): holds data but runs "vaultwarden/server:latest", a moving tag`,
    );
  }, 180_000);
});

describe("the adapter from PolicyResource", () => {
  it("keeps type, name, props, parent, dependencies and the options the engine sends", () => {
    const r = evaluationOf([
      {
        type: T.volume,
        name: "home-x",
        urn: "urn:pulumi:home::homelab::docker:index/volume:Volume::home-x",
        props: { name: "x" },
        opts: { protect: true, deleteBeforeReplace: true },
        parent: { name: "home" },
        dependencies: [{ name: "b" }, { name: "a" }, { name: "a" }],
      },
    ]);
    expect(r.stack).toBe("home");
    const v: RegisteredResource = r.resources[0]!;
    expect(v).toEqual({
      type: T.volume,
      name: "home-x",
      inputs: { name: "x" },
      custom: true,
      options: { protect: true, deleteBeforeReplace: true, parent: "home", dependsOn: ["a", "b"] },
    });
  });
});
