/**
 * Issue 10, item 2: `updates: auto` on a real engine. A service on offsite runs a tag of the lab
 * registry with `updates: "auto"`. The program names its RemoteImage `<repo>@<digest>` with the
 * digest the registry lookup returns, and the container runs that RemoteImage's image ID
 * (components/docker.ts). Here the lookup is answered with the lab registry's real digest
 * (test/e2e/registry.ts: a HEAD on the manifest as the provider's getRegistryImage makes it,
 * handed to the program in place of cli/evaluate.ts's fake digest), and the harness applies what
 * the program registers the way the provider would (kreuzwerker/terraform-provider-docker
 * v4.5.0, internal/provider/):
 * - findImage pulls only a name that is absent locally (resource_docker_image_funcs.go:343-361),
 *   so an image named by a digest the engine lacks is pulled, one it has is not;
 * - `name` is ForceNew (resource_docker_image.go:36-41), so a new digest is a new RemoteImage
 *   (pull, new image ID); keep_locally makes the old one's delete a no-op;
 * - the container's `image` changes with the image ID, which replaces the container
 *   (deleteBeforeReplace: stopped with destroy_grace_seconds, removed, created again).
 * Then a new image is pushed under the same tag: a new digest must yield a new container that
 * runs the new content; the same digest again must change nothing.
 */
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Evaluation, RegisteredResource } from "../../cli/evaluate";
import { evaluateStack, reveal } from "../../cli/evaluate";
import type { StackFile } from "../../stacks/types";
import { T, container, referenceConfig } from "../helpers";
import {
  applyServer,
  destroyContainer,
  engine,
  ensureImage,
  imageResource,
  realImageId,
} from "./harness";
import { dockerOk, lab, labOverrides, timed } from "./lab";
import { refreshServer, secondApplyChanges } from "./refresh";
import { pushProbeImage, registryDigest, registryLookups, withRegistryDigests } from "./registry";

const SERVER = "offsite";
/** Builds and pushes the probe images; offsite only ever pulls them. */
const BUILDER = "home";
const SERVICE = "autoprobe";

let reference: string;
let d: Docker;

/** offsite with one service: the probe image's tag, `updates: "auto"`. */
const declaration: () => StackFile = () => () => ({
  role: "e2e: updates auto",
  services: [
    {
      name: SERVICE,
      image: reference,
      updates: "auto",
      // sh as PID 1 with a TERM trap: the replacement's stop takes a second, not the grace.
      command: [
        "/bin/busybox",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do /bin/busybox sleep 1; done",
      ],
    },
  ],
});

/** offsite evaluated for the lab, the registry lookup answered with `digest`. */
async function evaluateWith(digest: string): Promise<Evaluation> {
  const before = registryLookups.length;
  const e = await withRegistryDigests({ [reference]: digest }, () =>
    evaluateStack(SERVER, referenceConfig(SERVER, labOverrides()[SERVER]), {
      declare: declaration(),
      quiet: true,
    }),
  );
  // The lookup really was answered from the registry, not by the fake digest.
  expect(registryLookups.length).toBeGreaterThan(before);
  return e;
}

const probe = (e: Evaluation) => container(e, SERVICE);
const imageOf = (e: Evaluation): RegisteredResource =>
  imageResource(e, String(reveal(probe(e).inputs.image)));
const imageName = (e: Evaluation) => String(reveal(imageOf(e).inputs.name));

async function absent(name: string): Promise<boolean> {
  try {
    await d.getImage(name).inspect();
    return false;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return true;
    throw e;
  }
}

/** The content the running probe container was created from (its image has no /bin/sh). */
async function probeVersion(): Promise<string> {
  return (
    await dockerOk(SERVER, ["exec", SERVICE, "/bin/busybox", "cat", "/probe-version"])
  ).trim();
}

async function removeProbe(): Promise<void> {
  try {
    await d.getContainer(SERVICE).remove({ force: true, v: true });
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e;
  }
}

beforeAll(async () => {
  reference = `${lab().registry}/homelab-e2e/probe:1`;
  d = engine(SERVER);
  await removeProbe();
  await timed("auto-updates: push probe v1", () => pushProbeImage(BUILDER, reference, "v1"));
}, 120_000);

afterAll(async () => {
  await removeProbe();
  for (const img of await d.listImages())
    if ((img.RepoDigests ?? []).some((x) => x.startsWith(reference.replace(/:[^:]+$/, "@"))))
      await d.getImage(img.Id).remove({ force: true });
}, 120_000);

describe("updates: auto — a new digest on the registry yields a new container", () => {
  let first: Evaluation;
  let firstDigest: string;
  let firstImageId: string;
  let firstContainerId: string;
  let second: Evaluation;
  let secondDigest: string;

  it("first apply: the RemoteImage is named by the registry's digest and pulled by it", async () => {
    firstDigest = await registryDigest(reference);
    first = await evaluateWith(firstDigest);
    const repo = `${lab().registry}/homelab-e2e/probe`;
    expect(reveal(imageOf(first).inputs)).toEqual({
      name: `${repo}@${firstDigest}`,
      keepLocally: true,
      pullTriggers: [firstDigest],
    });
    expect(await absent(imageName(first))).toBe(true);
    await timed("auto-updates: first apply", () => applyServer(first, SERVER, [SERVICE]));
    const img = await d.getImage(imageName(first)).inspect();
    // The engine holds exactly the content the registry's digest names.
    expect(img.RepoDigests).toContain(`${repo}@${firstDigest}`);
    firstImageId = img.Id;
    const c = await d.getContainer(SERVICE).inspect();
    firstContainerId = c.Id;
    expect(c.Image).toBe(firstImageId);
    expect(realImageId(String(reveal(probe(first).inputs.image)))).toBe(firstImageId);
    expect(await probeVersion()).toBe("v1");
  });

  it("a new image under the same tag: new digest, new RemoteImage, pulled, container replaced", async () => {
    await timed("auto-updates: push probe v2", () => pushProbeImage(BUILDER, reference, "v2"));
    secondDigest = await registryDigest(reference);
    expect(secondDigest).not.toBe(firstDigest);
    second = await evaluateWith(secondDigest);

    // What `pulumi up` would see change: the RemoteImage's name and pull trigger (name is
    // ForceNew: a new image resource) and the container's image ID (a replacement).
    const changes = secondApplyChanges(first, second, [SERVICE]);
    expect(changes.map((c) => `${c.resource} ${c.input}`).sort()).toEqual(
      [
        `${imageOf(first).name} name`,
        `${imageOf(first).name} pullTriggers`,
        `${probe(first).name} image`,
      ].sort(),
    );
    expect(imageName(second)).toBe(imageName(first).replace(firstDigest, secondDigest));
    expect(imageOf(second).type).toBe(T.image);

    await timed("auto-updates: second apply (new digest)", async () => {
      // The new RemoteImage: its name is absent on the engine, so findImage pulls it.
      expect(await ensureImage(d, imageName(second))).toBe(true);
      // The container, delete before replace: stopped with its grace, removed, created again.
      await destroyContainer(
        d,
        SERVICE,
        Number(reveal(probe(first).inputs.destroyGraceSeconds) ?? 0),
      );
      await applyServer(second, SERVER, [SERVICE]);
    });
    const img = await d.getImage(imageName(second)).inspect();
    expect(img.Id).not.toBe(firstImageId);
    const c = await d.getContainer(SERVICE).inspect();
    expect(c.Id).not.toBe(firstContainerId);
    expect(c.Image).toBe(img.Id);
    expect(c.State.Running).toBe(true);
    expect(await probeVersion()).toBe("v2");
    // keep_locally: the old image stays (removeImage is a no-op for it).
    expect(await absent(imageName(first))).toBe(false);
  });

  it("the same digest again: nothing to change, nothing pulled, no drift", async () => {
    expect(await registryDigest(reference)).toBe(secondDigest);
    const again = await evaluateWith(secondDigest);
    expect(secondApplyChanges(second, again, [SERVICE])).toEqual([]);
    expect(await ensureImage(d, imageName(again))).toBe(false);
    expect(await refreshServer(second, SERVER, [SERVICE])).toEqual([]);
  });
});
