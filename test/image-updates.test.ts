/**
 * Issue 10, items 2 and 5: which image a container runs, by update policy.
 *
 * Upstream facts (kreuzwerker/terraform-provider-docker v4.5.0, internal/provider/):
 * - A RemoteImage's create and update go through findImage, which inspects the name locally
 *   and returns what it finds; it pulls only when nothing local answers to the name
 *   (resource_docker_image_funcs.go:49-55, 141-147, 343-361). So a RemoteImage named by a
 *   tag that is already on the host is never pulled again, even when pull_triggers (ForceNew,
 *   resource_docker_image.go:61-68) replaces it (kreuzwerker#172, pulumi-docker#342).
 *   A name with a digest that the host does not have must be pulled.
 * - `name` is ForceNew (resource_docker_image.go:36-41): a new digest is a new image resource.
 * - resourceDockerImageRead inspects the *name* locally and sets the id, image_id and
 *   repo_digest from what the tag names now (resource_docker_image_funcs.go:103-132), all
 *   Computed (resource_docker_image.go:31-53).
 * - A container is created through findImage(image) (resource_docker_container_funcs.go:49-53):
 *   a tag gives whatever the tag names locally at that moment. Its read sets `image` to the
 *   running image ID when the recorded value starts with `sha256:`, else to Config.Image
 *   (resource_docker_container_funcs.go:837-845).
 * - getRegistryImage returns the registry's Docker-Content-Digest, or sha256 of the manifest
 *   (data_source_docker_registry_image.go:43-69, 130-146): `sha256:<64 hex>`.
 * Watchtower (nicholas-fedor/watchtower v1.21.0): monitor-only still pulls (IsContainerStale →
 * PullImage unless no-pull, pkg/container/image.go:117-159, 392-448; docs "Images may still be
 * pulled", docs/configuration/update-behavior/index.md:101-102); a container whose image name
 * is a digest or `sha256:` is never checked (image.go:60-79, 407-412); the image name is taken
 * from the label com.centurylinklabs.zodiac.original-image before Config.Image
 * (pkg/container/container.go:720-736).
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { computedState, mockInvoke, reveal } from "../cli/evaluate";
import type { RegisteredResource } from "../cli/evaluate";
import * as dockerComponents from "../components/docker";
import { T, container, evaluateReference, labels, one } from "./helpers";

const { homelabContainer } = dockerComponents;
// Namespace access: on code without these helpers the parsing tests fail, the others still run.
const digestReference = (image: string, digest: string) =>
  dockerComponents.digestReference(image, digest);
const imageRepository = (image: string) => dockerComponents.imageRepository(image);

const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const HA = "ghcr.io/home-assistant/home-assistant:2025.11.3";

describe("image references by digest", () => {
  it.each([
    ["ghcr.io/a/b:1.2", "ghcr.io/a/b"],
    ["localhost:5000/x:1", "localhost:5000/x"],
    ["localhost:5000/x", "localhost:5000/x"],
    ["nginx:1.29", "nginx"],
    ["nginx", "nginx"],
    ["docker.io/valkey/valkey:8-bookworm", "docker.io/valkey/valkey"],
    ["registry.example:443/team/sub/app:v1.0.0-rc.1", "registry.example:443/team/sub/app"],
    [`nginx:1.28.0@${D1}`, "nginx"],
    [`localhost:5000/x@${D1}`, "localhost:5000/x"],
  ])("%s → repository %s", (image, repo) => {
    expect(imageRepository(image)).toBe(repo);
  });

  it("names the repository with the registry's digest, tag (or old digest) stripped", () => {
    expect(digestReference("ghcr.io/a/b:1.2", D1)).toBe(`ghcr.io/a/b@${D1}`);
    expect(digestReference("localhost:5000/x:1", D1)).toBe(`localhost:5000/x@${D1}`);
    expect(digestReference("nginx:1.29", D1)).toBe(`nginx@${D1}`);
    expect(digestReference(`nginx:1.29@${D2}`, D1)).toBe(`nginx@${D1}`);
  });

  it("refuses a digest that is not sha256:<64 hex> instead of pulling a bad name", () => {
    expect(() => digestReference("nginx:1.29", "")).toThrow(/not sha256/);
    expect(() => digestReference("nginx:1.29", "sha256:abc")).toThrow(/not sha256/);
  });
});

/** The image resource and the container of `name` in an evaluation. */
function pair(e: { resources: RegisteredResource[] }, logical: string) {
  const c = e.resources.find((r) => r.type === T.container && r.name === logical)!;
  const img = e.resources.find((r) => r.type === T.image && r.name === `${logical}-image`)!;
  return { c, img };
}

describe("auto: Pulumi pulls the tag's current digest", () => {
  it("the RemoteImage is named <repo>@<registry digest>; the container runs its image ID", async () => {
    const e = await evaluateReference("home", {
      overrides: { services: { "home-assistant": { updates: "auto" } } },
    });
    const c = container(e, "home-assistant");
    const img = one(e, T.image, `${c.name}-image`);
    const digest = String(
      mockInvoke("docker:index/getRegistryImage:getRegistryImage", { name: HA }).sha256Digest,
    );
    expect(reveal(img.inputs.name)).toBe(`ghcr.io/home-assistant/home-assistant@${digest}`);
    expect(img.inputs.keepLocally).toBe(true);
    expect(reveal(img.inputs.pullTriggers)).toEqual([digest]);
    // The ID the provider reports for that name (mocked deterministically from the name).
    const imageId = computedState(T.image, img.name, { name: reveal(img.inputs.name) }).imageId;
    expect(reveal(c.inputs.image)).toBe(imageId);
    expect(labels(c)["com.centurylinklabs.watchtower.enable"]).toBe("false");
    // No ignoreChanges: it applies to inputs only, and image_id/repo_digest are outputs.
    expect(img.options.ignoreChanges).toBeUndefined();
    expect(c.options.deleteBeforeReplace).toBe(true);
  });

  /**
   * One container under a mock whose registry answers `digest`; what the engine would be
   * asked to register. Two runs with different answers stand for two `pulumi up`s.
   */
  async function run(digest: string, image = HA) {
    const recorded: RegisteredResource[] = [];
    await pulumi.runtime.setMocks(
      {
        newResource: (a) => {
          const inputs = a.inputs as Record<string, unknown>;
          recorded.push({ type: a.type, name: a.name, inputs, custom: true, options: {} });
          return { id: `${a.name}-id`, state: computedState(a.type, a.name, inputs) };
        },
        call: (a) => {
          expect(a.token).toBe("docker:index/getRegistryImage:getRegistryImage");
          expect(a.inputs.name).toBe(image);
          return { name: image, sha256Digest: digest };
        },
      },
      "homelab",
      "home",
      false,
    );
    const parent = new pulumi.ComponentResource("test:index:Parent", "p", {});
    const ctr: docker.Container = homelabContainer(
      "home-ha-container",
      { name: "home-assistant", server: "home", role: "service", image, updates: "auto" },
      { parent },
    );
    await new Promise((resolve) => ctr.image.apply(resolve));
    await (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs?.();
    return pair({ resources: recorded }, "home-ha-container");
  }

  it("a new digest renames the image (a pull) and gives the container a new image (a replacement)", async () => {
    const before = await run(D1);
    const after = await run(D2);
    expect(before.img.inputs.name).toBe(`ghcr.io/home-assistant/home-assistant@${D1}`);
    expect(after.img.inputs.name).toBe(`ghcr.io/home-assistant/home-assistant@${D2}`);
    // `name` is ForceNew: a new RemoteImage, which findImage has to pull (not local yet).
    expect(after.img.name).toBe(before.img.name);
    // `image` is ForceNew on the container: replaced, running the newly pulled image.
    expect(after.c.inputs.image).not.toBe(before.c.inputs.image);
    expect(after.c.inputs.image).toBe(
      computedState(T.image, "x", { name: after.img.inputs.name }).imageId,
    );
  });

  it("the same digest registers exactly the same image and container: no change", async () => {
    const a = await run(D1);
    const b = await run(D1);
    expect(b.img.inputs).toEqual(a.img.inputs);
    expect(b.c.inputs).toEqual(a.c.inputs);
  });

  it("a registry on a port keeps its host:port in the pulled name", async () => {
    const { img } = await run(D1, "localhost:5000/x:1");
    expect(img.inputs.name).toBe(`localhost:5000/x@${D1}`);
  });
});

describe("notify and pinned: the container runs the image ID Pulumi recorded", () => {
  const ZODIAC = "com.centurylinklabs.zodiac.original-image";
  it.each([
    ["home-assistant", "notify", HA],
    ["vaultwarden", "pinned", "vaultwarden/server:1.34.3"],
  ] as const)("%s (%s)", async (name, policy, tag) => {
    const e = await evaluateReference("home", {
      overrides: { services: { [name]: { updates: policy } } },
    });
    const c = container(e, name);
    const img = one(e, T.image, `${c.name}-image`);
    // Named by the tag, pulled once, never asked again: no registry lookup, no triggers, no
    // ignoreChanges (it covers inputs only; image_id is an output).
    expect(img.inputs).toEqual({ name: tag, keepLocally: true });
    expect(img.options.ignoreChanges).toBeUndefined();
    // Not the tag: a replacement must not start whatever the tag names locally by then
    // (findImage, resource_docker_container_funcs.go:49-53 at v4.5.0).
    expect(reveal(c.inputs.image)).toBe(computedState(T.image, img.name, { name: tag }).imageId);
    expect(reveal(c.inputs.image)).toMatch(/^sha256:[0-9a-f]{64}$/);
    const l = labels(c);
    if (policy === "notify") {
      expect(l["com.centurylinklabs.watchtower.enable"]).toBe("true");
      expect(l["com.centurylinklabs.watchtower.monitor-only"]).toBe("true");
      // What Watchtower checks for updates, since Config.Image is an ID.
      expect(l[ZODIAC]).toBe(tag);
    } else {
      expect(l["com.centurylinklabs.watchtower.enable"]).toBe("false");
      expect(l[ZODIAC]).toBeUndefined();
    }
  });
});
