/**
 * What the Docker provider does with the containers the program registers, checked against the
 * provider's own source. @pulumi/docker 5.2 bridges kreuzwerker/terraform-provider-docker at the
 * commit its `upstream` submodule pins: github.com/pulumi/pulumi-docker `upstream` →
 * 5074970c71ce6cc393c74942d5d628943834beb9 (= tag v4.5.0 of kreuzwerker/terraform-provider-docker;
 * the same commit at pulumi-docker v5.1.0 and at its newest commit, provider/go.mod `replace
 * … => ../upstream`). Line numbers below are of that commit.
 */
import { describe, expect, it } from "vitest";
import {
  Evaluation,
  PeerOutputs,
  RegisteredResource,
  Secret,
  asPeerOutputs,
} from "../cli/evaluate";
import { STACK_NAMES, T, evaluateReference, ofType, referenceFleet, reveal } from "./helpers";

/** Every upload of a container, revealed (the list, an item or a field may be a Secret). */
function uploadsOf(c: RegisteredResource): Record<string, unknown>[] {
  const raw = c.inputs.uploads instanceof Secret ? c.inputs.uploads.value : c.inputs.uploads;
  return ((raw ?? []) as unknown[]).map((u) => reveal(u) as Record<string, unknown>);
}

/**
 * The provider's create refuses an upload with none of content, content_base64, source set:
 * kreuzwerker/terraform-provider-docker internal/provider/resource_docker_container_funcs.go
 * lines 513-523 (resourceDockerContainerCreate) count the non-empty ones and return
 * `error with upload content: one of 'content', 'content_base64', or 'source' must be set`;
 * more than one is `only one of … can be set` (lines 524-526). "" counts as unset.
 */
function uploadError(u: Record<string, unknown>): string | undefined {
  const set = [u.content, u.contentBase64, u.source].filter(
    (v) => v !== undefined && v !== null && v !== "",
  ).length;
  if (set === 0)
    return "error with upload content: one of 'content', 'content_base64', or 'source' must be set";
  if (set > 1)
    return "error with upload content: only one of 'content', 'content_base64', or 'source' can be set";
  return undefined;
}

function uploadErrors(e: Evaluation): string[] {
  return ofType(e, T.container).flatMap((c) =>
    uploadsOf(c).flatMap((u) => {
      const err = uploadError(u);
      return err ? [`${e.stack}: ${String(c.inputs.name)} ${String(u.file)}: ${err}`] : [];
    }),
  );
}

describe("uploads the provider accepts (resource_docker_container_funcs.go:505-526)", () => {
  it.each(STACK_NAMES)(
    "%s, first deployment (no peer has outputs): no upload without content",
    async (stack) => {
      const e = await evaluateReference(stack);
      expect(ofType(e, T.container).length).toBeGreaterThan(5);
      expect(uploadErrors(e)).toEqual([]);
    },
  );

  it.each(STACK_NAMES)("%s, every peer pending: no upload without content", async (stack) => {
    const others = STACK_NAMES.filter((s) => s !== stack);
    const e = await evaluateReference(stack, { overrides: { pendingPeers: others } });
    expect(uploadErrors(e)).toEqual([]);
  });

  it("the converged fleet (peers with outputs): no upload without content", async () => {
    const { evaluations } = await referenceFleet();
    for (const stack of STACK_NAMES) expect(uploadErrors(evaluations[stack]!)).toEqual([]);
  });

  it.each(["home", "offsite"])(
    "%s, the ntfy server was deployed before it published a token for it: no ntfy-token upload",
    async (stack) => {
      const { evaluations } = await referenceFleet();
      const peers: PeerOutputs = {};
      for (const s of STACK_NAMES.filter((x) => x !== stack)) {
        peers[s] = asPeerOutputs(evaluations[s]!);
      }
      const cloud = peers.cloud!;
      const tokens = { ...(cloud.outputs.ntfyPublishTokens as Record<string, string>) };
      delete tokens[stack];
      peers.cloud = { ...cloud, outputs: { ...cloud.outputs, ntfyPublishTokens: tokens } };
      const e = await evaluateReference(stack, { peers });
      expect(uploadErrors(e)).toEqual([]);
      const sidecars = ofType(e, T.container).filter((c) =>
        /-backup$|^backup-replicas$/.test(String(c.inputs.name)),
      );
      expect(sidecars.length).toBeGreaterThan(0);
      for (const c of sidecars) {
        const files = uploadsOf(c).map((u) => u.file);
        expect(files, String(c.inputs.name)).toContain("/run/homelab/heartbeat-token");
        expect(files, String(c.inputs.name)).not.toContain("/run/homelab/ntfy-token");
      }
    },
  );

  it("with outputs, every backup sidecar gets the publish token, and only as a secret", async () => {
    const { evaluations } = await referenceFleet();
    const tokens = reveal(evaluations.cloud!.outputs.ntfyPublishTokens) as Record<string, string>;
    for (const stack of STACK_NAMES) {
      const e = evaluations[stack]!;
      const sidecars = ofType(e, T.container).filter((c) =>
        /-backup$|^backup-replicas$/.test(String(c.inputs.name)),
      );
      expect(sidecars.length).toBeGreaterThan(0);
      for (const c of sidecars) {
        const at = `${stack}: ${String(c.inputs.name)}`;
        const token = uploadsOf(c).find((u) => u.file === "/run/homelab/ntfy-token");
        expect(token?.content, at).toBe(tokens[stack]);
        // The list is decided on the secret's value, so the whole list is a secret.
        expect(c.inputs.uploads, at).toBeInstanceOf(Secret);
      }
    }
  });
});
