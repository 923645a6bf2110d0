/**
 * The one way this program makes Docker containers, volumes and images, so that every one of
 * them gets the same safety: a fixed name with delete-before-replace, a restart policy, log
 * rotation, sorted labels and envs, the update-policy labels, and data volumes that survive
 * a destroy. Plain functions, not components: each is called by the component that owns it.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { UpdatePolicy } from "../lib/model";
import { LOG_DRIVER, LOG_OPTS, RESTART_POLICY, WATCHTOWER_LABELS } from "./defaults";
import { byKey } from "../lib/order";

/** What a container is, minus what every container shares. */
export interface ContainerSpec {
  /** Physical container name (unique on the host). */
  name: string;
  /** Server (stack) name, for labels and the Watchtower scope. */
  server: string;
  /** Role label: traefik, gatus, service, backup, … */
  role: string;
  /** Image reference with a tag. */
  image: string;
  /** Image update owner. @default "pinned" */
  updates?: UpdatePolicy;
  /** Environment; secret Outputs stay secret. */
  env?: Record<string, pulumi.Input<string>>;
  /** Extra labels (Traefik routing). */
  labels?: Record<string, string>;
  /** Named volumes and bind mounts. */
  volumes?: {
    volumeName?: pulumi.Input<string>;
    hostPath?: string;
    containerPath: string;
    readOnly?: boolean;
  }[];
  /**
   * Directories of named volumes, each mounted alone (a Docker volume `subpath` mount: the
   * container sees that directory and nothing else of the volume). The directory must exist
   * (moby daemon/volume/safepath, `safeOpenFd`), and the engine must speak API 1.45 (Docker
   * 26.0): older ones are refused by the provider (kreuzwerker/terraform-provider-docker
   * v4.5.0 resource_docker_container_funcs.go:219-225) and by the engine
   * (moby daemon/server/router/container/container_routes.go, "needs API v1.45").
   */
  volumeParts?: {
    volumeName: pulumi.Input<string>;
    subpath: string;
    containerPath: string;
    readOnly?: boolean;
  }[];
  /** Files written into the container before it starts. */
  uploads?: pulumi.Input<pulumi.Input<docker.types.input.ContainerUpload>[]>;
  /** Networks by name. */
  networks?: pulumi.Input<string>[];
  /** Published host ports. */
  ports?: { internal: number; external: number; protocol?: "tcp" | "udp" }[];
  /**
   * Host addresses every published port binds to, one binding per address; none: every
   * interface (the provider's default `ip` 0.0.0.0). @default []
   */
  bindAddresses?: readonly string[];
  command?: string[];
  entrypoints?: string[];
  user?: string;
  healthcheck?: docker.types.input.ContainerHealthcheck;
  /** Seconds it gets to stop before it is killed. @default from `stopGraceSeconds(image)` */
  stopGraceSeconds?: number;
  /**
   * A job that runs once at create and exits (restart on failure only): the provider waits for
   * it to finish (`attach`) and leaves it stopped (`mustRun: false`), so dependants start after
   * it and a refresh sees no drift (resource_docker_container_funcs.go:631-671, 798-823).
   */
  oneShot?: boolean;
}

/**
 * How long a container that is replaced or removed may take to stop, in seconds. Without
 * destroy_grace_seconds the provider stops a container with a timeout of 0, i.e. SIGKILL at
 * once, then removes it with its anonymous volumes (kreuzwerker/terraform-provider-docker
 * v4.5.0, internal/provider/resource_docker_container_funcs.go:1086-1108,
 * resourceDockerContainerDelete; remove_volumes defaults to true,
 * resource_docker_container.go:256-261), and with deleteBeforeReplace every image bump goes
 * that way. It is an upper bound: Docker sends the image's stop signal and returns as soon as
 * the container exits, so a container that stops cleanly is not slowed down.
 * - `default`: 30 s, three times Docker's own `docker stop` default of 10 s: room for
 *   Vaultwarden's and Stalwart's stores, Home Assistant's shutdown and a restic job to react.
 * - `database`: 120 s. The postgres image stops with SIGINT (fast shutdown) and recommends a
 *   runtime stop timeout well above Docker's 10 s, "even 90 seconds may not be long enough"
 *   (docker-library/postgres Dockerfile-debian.template, after STOPSIGNAL SIGINT); MariaDB,
 *   MySQL and Redis/Valkey (final save on SIGTERM) are treated alike.
 */
export const STOP_GRACE_SECONDS = { default: 30, database: 120 } as const;

/** Image repositories (last path element) that are databases and get the longer grace. */
const DATABASE_IMAGES =
  /^(postgres|postgis|pgvecto-rs|timescaledb|mariadb|mysql|percona|mongo|redis|valkey|keydb)([-_.].*)?$/;

/** The grace period of a container running `image` (a reference with a tag or digest). */
export function stopGraceSeconds(image: string): number {
  const repo = imageRepository(image).split("/").pop()!;
  return DATABASE_IMAGES.test(repo) ? STOP_GRACE_SECONDS.database : STOP_GRACE_SECONDS.default;
}

/**
 * The label Watchtower takes a container's image name from before Config.Image (resolveImageName,
 * nicholas-fedor/watchtower v1.21.0 pkg/container/container.go:720-736, metadata.go:29-30).
 * Needed because containers run an image ID: with Config.Image `sha256:…` Watchtower would treat
 * the image as pinned by digest and never check it (IsImagePinnedByDigest, image.go:60-68, 407-412).
 */
export const ORIGINAL_IMAGE_LABEL = "com.centurylinklabs.zodiac.original-image";

/** Labels that tell Watchtower what it may do with a container running `image` (a tag). */
export function updateLabels(
  server: string,
  policy: UpdatePolicy,
  image?: string,
): Record<string, string> {
  // Only "notify" is visible to Watchtower, and only for monitoring: it never recreates a
  // container Pulumi owns (that would change the container ID behind Pulumi's back).
  if (policy === "notify") {
    return {
      [WATCHTOWER_LABELS.enable]: "true",
      [WATCHTOWER_LABELS.monitorOnly]: "true",
      [WATCHTOWER_LABELS.scope]: server,
      ...(image ? { [ORIGINAL_IMAGE_LABEL]: image } : {}),
    };
  }
  return { [WATCHTOWER_LABELS.enable]: "false" };
}

const sortedEntries = <T>(o: Record<string, T>) => Object.entries(o).sort(byKey);

/**
 * The repository of an image reference `[host[:port]/]path[:tag][@digest]`: tag and digest
 * stripped, registry host, port and path kept (`localhost:5000/x:1` → `localhost:5000/x`).
 * A tag is the part after the last `:` of the last path element, so a registry port is not one.
 */
export function imageRepository(image: string): string {
  const at = image.indexOf("@");
  const ref = at < 0 ? image : image.slice(0, at);
  const colon = ref.lastIndexOf(":");
  return colon > ref.lastIndexOf("/") ? ref.slice(0, colon) : ref;
}

/**
 * The reference by content digest of `image`: `<repository>@<digest>`, e.g. `ghcr.io/a/b:1.2` +
 * `sha256:…` → `ghcr.io/a/b@sha256:…`. `digest` is what the registry returned for the tag
 * (getRegistryImage's sha256_digest: the Docker-Content-Digest header, or sha256 of the manifest,
 * kreuzwerker/terraform-provider-docker v4.5.0 data_source_docker_registry_image.go:130-146).
 */
export function digestReference(image: string, digest: string): string {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) {
    throw new Error(
      `registry digest of ${image} is not sha256:<64 hex>: ${JSON.stringify(digest)}`,
    );
  }
  return `${imageRepository(image)}@${digest}`;
}

/**
 * The image resource of a container, kept when the container goes; returns the image ID the
 * container runs. All policies run the ID Pulumi recorded, never a tag: the provider creates a
 * container through findImage, which takes whatever image the tag names *locally* at that
 * moment (resource_docker_container_funcs.go:49-53, resource_docker_image_funcs.go:343-359),
 * so a tag that moved on the host (Watchtower monitor-only still pulls) would start a newer
 * image at the next unrelated replacement. With an ID the provider reads the running image
 * back as `.Image` (funcs.go:837-845): no diff while it runs what was recorded.
 *
 * - `pinned`/`notify`: named by the tag, pulled once. The ID only changes with the tag in the
 *   code, or when a state-writing refresh re-reads a moved tag (resourceDockerImageRead sets
 *   image_id and repo_digest from the local tag, resource_docker_image_funcs.go:113-130; see
 *   docs/drift.md) — then the next preview shows the container's replacement.
 * - `auto`: named by the tag's digest in the registry, asked on every run. The provider only
 *   pulls when the name is not found locally (findImage, funcs.go:353-361), so naming it by
 *   the tag would never pull again (kreuzwerker#172, pulumi-docker#342); a new digest is a new
 *   name (ForceNew, resource_docker_image.go:36-41), i.e. a pull and a new image ID, which
 *   replaces the container. pull_triggers keeps the digest in state as the `auto` marker.
 */
function image(
  logical: string,
  spec: ContainerSpec,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  if ((spec.updates ?? "pinned") !== "auto") {
    const img = new docker.RemoteImage(
      `${logical}-image`,
      { name: spec.image, keepLocally: true },
      opts,
    );
    return img.imageId;
  }
  const registry = docker.getRegistryImageOutput(
    { name: spec.image },
    { parent: opts.parent, provider: opts.provider },
  );
  const img = new docker.RemoteImage(
    `${logical}-image`,
    {
      name: registry.sha256Digest.apply((digest) => digestReference(spec.image, digest)),
      keepLocally: true,
      pullTriggers: [registry.sha256Digest],
    },
    opts,
  );
  return img.imageId;
}

/** A container with the house defaults; `logical` is the Pulumi name, `spec.name` Docker's. */
export function homelabContainer(
  logical: string,
  spec: ContainerSpec,
  opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource },
): docker.Container {
  const labels: Record<string, string> = {
    ...spec.labels,
    "homelab.managed-by": "pulumi",
    "homelab.role": spec.role,
    "homelab.server": spec.server,
    ...updateLabels(spec.server, spec.updates ?? "pinned", spec.image),
  };
  return new docker.Container(
    logical,
    {
      name: spec.name,
      image: image(logical, spec, { parent: opts.parent }),
      hostname: spec.name,
      restart: spec.oneShot ? "on-failure" : RESTART_POLICY,
      ...(spec.oneShot ? { attach: true, mustRun: false } : {}),
      logDriver: LOG_DRIVER,
      logOpts: LOG_OPTS,
      labels: sortedEntries(labels).map(([label, value]) => ({ label, value })),
      envs: sortedEntries(spec.env ?? {}).map(([k, v]) => pulumi.interpolate`${k}=${v}`),
      volumes: spec.volumes,
      ...(spec.volumeParts?.length
        ? {
            mounts: spec.volumeParts.map((m) => ({
              type: "volume",
              source: m.volumeName,
              target: m.containerPath,
              readOnly: m.readOnly ?? false,
              volumeOptions: { subpath: m.subpath },
            })),
          }
        : {}),
      uploads: spec.uploads,
      networksAdvanced: (spec.networks ?? []).map((name) => ({ name })),
      ports: publishedPorts(spec),
      command: spec.command,
      entrypoints: spec.entrypoints,
      user: spec.user,
      healthcheck: spec.healthcheck,
      destroyGraceSeconds: spec.stopGraceSeconds ?? stopGraceSeconds(spec.image),
    },
    { deleteBeforeReplace: true, ...opts },
  );
}

/**
 * The provider's port list: each port once, or once per bind address. `ip` is the host address
 * Docker binds (PortBinding.HostIP, kreuzwerker/terraform-provider-docker v4.5.0
 * internal/provider/resource_docker_container_structures.go:247-250; default "0.0.0.0",
 * resource_docker_container.go:509-514, a change of it replaces the container).
 */
export function publishedPorts(spec: Pick<ContainerSpec, "ports" | "bindAddresses">) {
  const addresses = spec.bindAddresses?.length ? spec.bindAddresses : [undefined];
  return spec.ports?.flatMap((p) =>
    addresses.map((ip) => ({
      internal: p.internal,
      external: p.external,
      protocol: p.protocol ?? "tcp",
      ...(ip ? { ip } : {}),
    })),
  );
}

/** A Docker network of the server; `internal`: no route out. */
export function homelabNetwork(
  logical: string,
  name: string,
  internal: boolean,
  opts: { parent: pulumi.Resource },
): docker.Network {
  return new docker.Network(
    logical,
    { name, internal, labels: [{ label: "homelab.managed-by", value: "pulumi" }] },
    { parent: opts.parent, deleteBeforeReplace: true },
  );
}

/** A named volume. `data` volumes survive `pulumi destroy` and renames (retainOnDelete). */
export function homelabVolume(
  logical: string,
  name: string,
  server: string,
  kind: "data" | "cache",
  opts: pulumi.CustomResourceOptions & { parent: pulumi.Resource },
): docker.Volume {
  return new docker.Volume(
    logical,
    {
      name,
      labels: [
        { label: "homelab.kind", value: kind },
        { label: "homelab.managed-by", value: "pulumi" },
        { label: "homelab.server", value: server },
      ],
    },
    { ...opts, retainOnDelete: kind === "data", deleteBeforeReplace: true },
  );
}

/** A file uploaded into a container; `content` may be a secret Output. */
export function upload(
  file: string,
  content: pulumi.Input<string>,
  mode = "0444",
): docker.types.input.ContainerUpload {
  return { file, content, permissions: mode };
}

/**
 * `files` without those of the `optional` paths whose content is "" (a value not known yet: a
 * peer's output before the peer is deployed). The provider refuses to create a container with
 * an upload that has no content, content_base64 or source ("error with upload content: one of
 * 'content', 'content_base64', or 'source' must be set": kreuzwerker/terraform-provider-docker
 * internal/provider/resource_docker_container_funcs.go:521-523 at v4.5.0, which @pulumi/docker
 * 5.2 bridges), so an empty optional file is left out, not uploaded; an empty required file
 * stays and fails loudly. Emptiness is decided inside an apply, so a secret content is never
 * revealed: the list that comes out is secret when any content in it is (Pulumi carries
 * secretness through `all`/`apply`). Order is kept.
 */
export function uploadsWithout(
  files: pulumi.Input<docker.types.input.ContainerUpload>[],
  optional: string[],
): pulumi.Output<pulumi.Unwrap<docker.types.input.ContainerUpload>[]> {
  return pulumi
    .all(files)
    .apply((list) => list.filter((u) => !(optional.includes(u.file) && (u.content ?? "") === "")));
}
