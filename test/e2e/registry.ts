/**
 * The lab registry (scripts/lab/lab.sh, both engines' Docker Hub mirror and an insecure
 * registry they may pull from by its address) as the program's `updates: auto` sees it: a tag's
 * digest read the way the provider's registry lookup reads it, an evaluation whose lookup is
 * answered with that digest, and tiny images pushed under a tag.
 */
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { tarOf } from "./harness";
import { ServerName, dockerOk, lab } from "./lab";

const REGISTRY_LOOKUP = "docker:index/getRegistryImage:getRegistryImage";

/** `host:port/path:tag` → its parts (the lab registry's references always carry a tag). */
function splitReference(reference: string): { registry: string; repo: string; tag: string } {
  const m = /^([^/]+)\/(.+):([^:/]+)$/.exec(reference);
  if (!m) throw new Error(`not a <registry>/<repository>:<tag> reference: ${reference}`);
  return { registry: m[1]!, repo: m[2]!, tag: m[3]! };
}

/**
 * The digest the registry holds for a tag, read as the provider's getRegistryImage reads it
 * (kreuzwerker/terraform-provider-docker v4.5.0, data_source_docker_registry_image.go,
 * getImageDigest / getDigestFromResponse): `HEAD /v2/<repo>/manifests/<tag>` accepting Docker
 * schema 2 manifests and lists and OCI manifests and indexes (setupHTTPHeadersForRegistryRequests),
 * answer = the Docker-Content-Digest header. One difference: the provider speaks https to a
 * registry; the lab registry is plain http (the engines list it as insecure).
 */
export function registryDigest(reference: string): Promise<string> {
  const { registry, repo, tag } = splitReference(reference);
  if (registry !== lab().registry) throw new Error(`${reference} is not on the lab registry`);
  const [hostname, port] = registry.split(":") as [string, string];
  return new Promise((resolve, reject) => {
    const req = request(
      {
        method: "HEAD",
        hostname,
        port: Number(port),
        path: `/v2/${repo}/manifests/${tag}`,
        headers: {
          accept: [
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.index.v1+json",
          ].join(", "),
        },
      },
      (res) => {
        res.resume();
        const digest = res.headers["docker-content-digest"];
        if (res.statusCode !== 200 || typeof digest !== "string")
          reject(new Error(`HEAD manifest of ${reference}: ${res.statusCode}, digest ${digest}`));
        else resolve(digest);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** How often the wrapped mock runtime answered the registry lookup from the lab registry. */
export const registryLookups: { name: string; digest: string }[] = [];

/**
 * Runs `f` (an evaluation) with the mock runtime's answer to the registry lookup replaced, for
 * the references in `digests`, by the digest given (the lab registry's real one): the stand-in
 * for the lookup the provider makes on every `pulumi up`. cli/evaluate.ts's mockInvoke answers
 * a fake digest derived from the name; evaluateStack hands its mocks to
 * `pulumi.runtime.setMocks`, which is wrapped here for the duration of `f` so that only the
 * `call` answer for those names changes. Everything else — the `<repo>@<digest>` name, the
 * pull trigger, the container's image ID — is what the program computes from that answer.
 */
export async function withRegistryDigests<T>(
  digests: Record<string, string>,
  f: () => Promise<T>,
): Promise<T> {
  type SetMocks = typeof pulumi.runtime.setMocks;
  const runtime = pulumi.runtime as unknown as { setMocks: SetMocks };
  const original = runtime.setMocks;
  runtime.setMocks = (mocks, ...rest) =>
    original(
      {
        newResource: (args) => mocks.newResource(args),
        call: (args) => {
          const name = String((args.inputs as Record<string, unknown>).name);
          if (args.token === REGISTRY_LOOKUP && digests[name]) {
            registryLookups.push({ name, digest: digests[name] });
            return { name, sha256Digest: digests[name] };
          }
          return mocks.call(args);
        },
      },
      ...rest,
    );
  try {
    return await f();
  } finally {
    runtime.setMocks = original;
  }
}

/**
 * Pushes a tiny image under `reference` (a tag on the lab registry), built the way lab.sh builds
 * its images (`docker import` of a busybox rootfs), here just the machine's static busybox and a
 * file `/probe-version` holding `version`: a new version is new content, so a new digest under
 * the same tag. Built on `builder`'s engine, pushed, then removed there again.
 */
export async function pushProbeImage(
  builder: ServerName,
  reference: string,
  version: string,
): Promise<void> {
  const tar = tarOf([
    { path: "bin/busybox", content: readFileSync("/usr/bin/busybox"), mode: 0o755 },
    { path: "probe-version", content: Buffer.from(`${version}\n`), mode: 0o644 },
  ]);
  await dockerOk(builder, ["import", "-", reference], { input: tar });
  await dockerOk(builder, ["push", "-q", reference], { timeoutMs: 60_000 });
  await dockerOk(builder, ["rmi", reference]);
}
