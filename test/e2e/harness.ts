/**
 * A TEST HARNESS, not a deploy path: applies the Docker resources a server's stack registers
 * (as cli/evaluate.ts records them under mocks) to that server's engine over SSH with dockerode,
 * so the end-to-end suite runs exactly the containers, scripts and config files the program
 * generates. It translates the @pulumi/docker inputs the program uses and throws on any input
 * it does not translate, so a new input can never be silently dropped here.
 */
import Docker from "dockerode";
import { readFileSync } from "node:fs";
import type { Evaluation, RegisteredResource } from "../../cli/evaluate";
import { computedState, reveal } from "../../cli/evaluate";
import { lab, ServerName } from "./lab";
import { T } from "../helpers";

/** dockerode for a lab server's engine, over SSH (one SSH connection per API call). */
export function engine(server: ServerName): Docker {
  const l = lab();
  const pinned = readFileSync(l.knownHosts, "utf8")
    .split("\n")
    .find((line) => line.startsWith(`${l.hosts[server]} `));
  if (!pinned) throw new Error(`no host key for ${server} in ${l.knownHosts}`);
  const want = Buffer.from(pinned.split(" ")[2]!, "base64");
  return new Docker({
    protocol: "ssh",
    host: l.hosts[server],
    port: 22,
    username: l.user,
    sshOptions: {
      privateKey: readFileSync(l.clientKey),
      // The host key is pinned, never trusted on first use.
      hostVerifier: (key: Buffer) => Buffer.compare(Buffer.from(key), want) === 0,
    },
  } as Docker.DockerOptions);
}

function fail(what: string, key: string, value: unknown): never {
  throw new Error(
    `harness: ${what} input "${key}" is not translated (value ${JSON.stringify(value)}); ` +
      `teach test/e2e/harness.ts to apply it before relying on the suite`,
  );
}

/** Only these keys may appear; anything else fails loudly. */
function allowOnly(what: string, obj: Record<string, unknown>, keys: readonly string[]) {
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    if (!keys.includes(k)) fail(what, k, v);
  }
}

/** Go-style duration ("30s", "1m30s", "500ms") in nanoseconds. */
export function durationNs(d: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = {
    ns: 1,
    us: 1e3,
    µs: 1e3,
    ms: 1e6,
    s: 1e9,
    m: 60e9,
    h: 3600e9,
  };
  let total = 0;
  let matched = "";
  for (const m of d.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    matched += m[0];
  }
  if (!d || matched !== d) throw new Error(`harness: cannot parse duration "${d}"`);
  return Math.round(total);
}

/** A ustar archive of files (path without leading slash, content, octal mode). */
export function tarOf(files: { path: string; content: Buffer; mode: number }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(512);
    const name = f.path.replace(/^\/+/, "");
    let prefix = "";
    let base = name;
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf("/", 155);
      prefix = name.slice(0, cut);
      base = name.slice(cut + 1);
    }
    h.write(base, 0, 100, "utf8");
    h.write(f.mode.toString(8).padStart(7, "0") + "\0", 100, 8, "ascii");
    h.write("0000000\0", 108, 8, "ascii");
    h.write("0000000\0", 116, 8, "ascii");
    h.write(f.content.length.toString(8).padStart(11, "0") + "\0", 124, 12, "ascii");
    h.write(
      Math.floor(Date.now() / 1000)
        .toString(8)
        .padStart(11, "0") + "\0",
      136,
      12,
      "ascii",
    );
    h.write("        ", 148, 8, "ascii");
    h.write("0", 156, 1, "ascii");
    h.write("ustar\0", 257, 6, "ascii");
    h.write("00", 263, 2, "ascii");
    h.write(prefix, 345, 155, "utf8");
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
    blocks.push(h, f.content, Buffer.alloc((512 - (f.content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** What a Container resource becomes: the create options plus what happens before start. */
export interface ContainerPlan {
  name: string;
  image: string;
  create: Docker.ContainerCreateOptions;
  /**
   * networks_advanced: connected after create, once the default bridge is disconnected (the
   * container is created with network_mode "bridge", the schema default), as the provider does
   * (resource_docker_container_funcs.go:257-303 at v4.5.0).
   */
  networks: { name: string; aliases?: string[] }[];
  uploads: { path: string; content: Buffer; mode: number }[];
  /** destroy_grace_seconds: the stop timeout before removal (0: SIGKILL at once). */
  destroyGraceSeconds: number;
  /** attach: create waits until the container has stopped (funcs.go:631-671). */
  attach: boolean;
}

/** Translates one registered docker Container into Docker Engine API terms. */
export function planContainer(r: RegisteredResource): ContainerPlan {
  if (r.type !== T.container) throw new Error(`harness: ${r.name} is a ${r.type}, not a container`);
  const i = reveal(r.inputs) as Record<string, unknown>;
  const what = `container ${r.name}`;
  allowOnly(what, i, [
    "name",
    "image",
    "hostname",
    "envs",
    "labels",
    "command",
    "entrypoints",
    "user",
    "volumes",
    "mounts",
    "uploads",
    "networksAdvanced",
    "ports",
    "restart",
    "healthcheck",
    "logDriver",
    "logOpts",
    "destroyGraceSeconds",
    "mustRun",
    "attach",
  ]);
  const name = String(i.name);
  const image = String(i.image);
  const hostConfig: Docker.HostConfig = {};
  const create: Docker.ContainerCreateOptions = { name, Image: image, HostConfig: hostConfig };
  if (i.hostname !== undefined) create.Hostname = String(i.hostname);
  if (i.envs !== undefined) create.Env = (i.envs as string[]).map(String);
  if (i.labels !== undefined) {
    create.Labels = {};
    for (const l of i.labels as Record<string, unknown>[]) {
      allowOnly(`${what} labels[]`, l, ["label", "value"]);
      create.Labels[String(l.label)] = String(l.value);
    }
  }
  if (i.command !== undefined) create.Cmd = (i.command as string[]).map(String);
  if (i.entrypoints !== undefined) create.Entrypoint = (i.entrypoints as string[]).map(String);
  if (i.user !== undefined) create.User = String(i.user);
  if (i.restart !== undefined) {
    const policy = String(i.restart);
    if (!["no", "always", "unless-stopped", "on-failure"].includes(policy))
      fail(what, "restart", policy);
    hostConfig.RestartPolicy = { Name: policy };
  }
  if (i.logDriver !== undefined || i.logOpts !== undefined) {
    hostConfig.LogConfig = {
      Type: String(i.logDriver ?? "json-file"),
      Config: Object.fromEntries(
        Object.entries((i.logOpts as Record<string, unknown>) ?? {}).map(([k, v]) => [
          k,
          String(v),
        ]),
      ),
    };
  }
  const binds: string[] = [];
  for (const v of (i.volumes as Record<string, unknown>[] | undefined) ?? []) {
    allowOnly(`${what} volumes[]`, v, ["volumeName", "hostPath", "containerPath", "readOnly"]);
    const source = v.volumeName ?? v.hostPath;
    if (!source || !v.containerPath) fail(what, "volumes", v);
    binds.push(`${String(source)}:${String(v.containerPath)}${v.readOnly ? ":ro" : ""}`);
  }
  if (binds.length) hostConfig.Binds = binds;
  const mounts: Docker.MountSettings[] = [];
  for (const m of (i.mounts as Record<string, unknown>[] | undefined) ?? []) {
    allowOnly(`${what} mounts[]`, m, ["target", "source", "type", "readOnly", "volumeOptions"]);
    const type = String(m.type);
    if (!["bind", "volume", "tmpfs"].includes(type)) fail(what, "mounts[].type", type);
    const vo = m.volumeOptions as Record<string, unknown> | undefined;
    if (vo !== undefined) {
      allowOnly(`${what} mounts[].volumeOptions`, vo, ["subpath"]);
      if (type !== "volume") fail(what, "mounts[].volumeOptions", vo);
    }
    mounts.push({
      Target: String(m.target),
      Source: m.source === undefined ? "" : String(m.source),
      Type: type as "bind" | "volume" | "tmpfs",
      ReadOnly: Boolean(m.readOnly),
      // volume_options → VolumeOptions (resource_docker_container_funcs.go:193-227 at v4.5.0)
      ...(vo ? { VolumeOptions: { Subpath: String(vo.subpath ?? "") } } : {}),
    } as Docker.MountSettings);
  }
  if (mounts.length) hostConfig.Mounts = mounts;
  const ports = (i.ports as Record<string, unknown>[] | undefined) ?? [];
  if (ports.length) {
    create.ExposedPorts = {};
    hostConfig.PortBindings = {};
    for (const p of ports) {
      allowOnly(`${what} ports[]`, p, ["internal", "external", "protocol", "ip"]);
      const key = `${Number(p.internal)}/${String(p.protocol ?? "tcp")}`;
      create.ExposedPorts[key] = {};
      const bindings = (hostConfig.PortBindings as Record<string, unknown[]>)[key] ?? [];
      bindings.push({ HostIp: String(p.ip ?? "0.0.0.0"), HostPort: String(p.external) });
      (hostConfig.PortBindings as Record<string, unknown[]>)[key] = bindings;
    }
  }
  if (i.healthcheck !== undefined) {
    const h = i.healthcheck as Record<string, unknown>;
    allowOnly(`${what} healthcheck`, h, ["tests", "interval", "timeout", "startPeriod", "retries"]);
    create.Healthcheck = {
      Test: (h.tests as string[]).map(String),
      ...(h.interval !== undefined ? { Interval: durationNs(String(h.interval)) } : {}),
      ...(h.timeout !== undefined ? { Timeout: durationNs(String(h.timeout)) } : {}),
      ...(h.startPeriod !== undefined ? { StartPeriod: durationNs(String(h.startPeriod)) } : {}),
      ...(h.retries !== undefined ? { Retries: Number(h.retries) } : {}),
    };
  }
  // network_mode defaults to "bridge" and the provider always sends it (schema
  // resource_docker_container.go:901-907, create funcs.go:392-400); the engine reports it back as
  // HostConfig.NetworkMode, which the provider reads (funcs.go:950).
  hostConfig.NetworkMode = "bridge";
  const networks: { name: string; aliases?: string[] }[] = [];
  for (const n of (i.networksAdvanced as Record<string, unknown>[] | undefined) ?? []) {
    allowOnly(`${what} networksAdvanced[]`, n, ["name", "aliases"]);
    networks.push({
      name: String(n.name),
      ...(n.aliases ? { aliases: (n.aliases as string[]).map(String) } : {}),
    });
  }
  const uploads: ContainerPlan["uploads"] = [];
  for (const u of (i.uploads as Record<string, unknown>[] | undefined) ?? []) {
    allowOnly(`${what} uploads[]`, u, [
      "file",
      "content",
      "contentBase64",
      "executable",
      "permissions",
      "source",
    ]);
    // Apply-time validation as the provider does it at create: exactly one of content,
    // content_base64 and source must be non-empty (resource_docker_container_funcs.go:513-526
    // at v4.5.0); "" counts as unset there, so an empty file is refused, not uploaded.
    const given = [u.content, u.contentBase64, u.source].filter(
      (x) => x !== undefined && x !== null && String(x) !== "",
    ).length;
    if (given === 0)
      throw new Error(
        `${what} upload ${String(u.file)}: error with upload content: one of 'content', 'content_base64', or 'source' must be set`,
      );
    if (given > 1)
      throw new Error(
        `${what} upload ${String(u.file)}: error with upload content: only one of 'content', 'content_base64', or 'source' can be set`,
      );
    if (u.source !== undefined && String(u.source) !== "")
      fail(`${what} uploads[]`, "source", u.source);
    const content =
      u.contentBase64 !== undefined && String(u.contentBase64) !== ""
        ? Buffer.from(String(u.contentBase64), "base64")
        : Buffer.from(String(u.content ?? ""), "utf8");
    // permissions, else 0744 when executable, else 0644 (funcs.go:547-556).
    const mode =
      u.permissions !== undefined && String(u.permissions) !== ""
        ? parseInt(String(u.permissions), 8)
        : u.executable
          ? 0o744
          : 0o644;
    uploads.push({ path: String(u.file), content, mode });
  }
  return {
    name,
    image,
    create,
    networks,
    uploads,
    destroyGraceSeconds: Number(i.destroyGraceSeconds ?? 0),
    attach: i.attach === true,
  };
}

/** The Docker names of what a set of containers needs: images, volumes, networks. */
function needs(plans: ContainerPlan[]) {
  const volumes = new Set<string>();
  const networks = new Set<string>();
  for (const p of plans) {
    for (const b of p.create.HostConfig?.Binds ?? []) {
      const src = b.split(":")[0]!;
      if (!src.startsWith("/")) volumes.add(src);
    }
    for (const m of p.create.HostConfig?.Mounts ?? [])
      if (m.Type === "volume") volumes.add(m.Source);
    for (const n of p.networks) networks.add(n.name);
  }
  return { volumes, networks, images: new Set(plans.map((p) => p.image)) };
}

/** Image IDs of the mock evaluation → the IDs the lab's engines gave the same images. */
const realImageIds = new Map<string, string>();

/** The image a container really runs in the lab: the real ID for a mock one, else as given. */
export function realImageId(image: string): string {
  return realImageIds.get(image) ?? image;
}

/** The RemoteImage a container's image names: by its name, or by the image ID it yields. */
export function imageResource(e: Evaluation, image: string): RegisteredResource {
  if (!image.startsWith("sha256:")) return find(e, T.image, image);
  const r = e.resources.find(
    (x) =>
      x.type === T.image &&
      computedState(x.type, x.name, reveal(x.inputs) as Record<string, unknown>).imageId === image,
  );
  if (!r) throw new Error(`harness: ${e.stack} registers no ${T.image} whose image ID is ${image}`);
  return r;
}

function find(e: Evaluation, type: string, dockerName: string): RegisteredResource {
  const r = e.resources.find((x) => x.type === type && reveal(x.inputs.name) === dockerName);
  if (!r) throw new Error(`harness: ${e.stack} registers no ${type} named ${dockerName}`);
  return r;
}

/**
 * The provider's findImage (resource_docker_image_funcs.go:343-378 at v4.5.0): an image that is
 * present locally under that name is used as it is; only an absent one is pulled. Returns
 * whether it pulled. A RemoteImage's create and update both go through it (funcs.go:34-56,
 * 134-148), so a replacement caused by pull_triggers (ForceNew, resource_docker_image.go:61-68)
 * pulls nothing when the name is a tag that is already present; keep_locally makes the delete
 * of the old image a no-op (removeImage, funcs.go:187-192).
 */
export async function ensureImage(d: Docker, image: string): Promise<boolean> {
  try {
    await d.getImage(image).inspect();
    return false;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e;
  }
  await pull(d, image);
  return true;
}

async function pull(d: Docker, image: string): Promise<void> {
  const stream = await d.pull(image);
  await new Promise<void>((resolve, reject) =>
    d.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const bad = out?.find((o) => o.error);
      if (err || bad) reject(err ?? new Error(bad!.error));
      else resolve();
    }),
  );
}

/**
 * Applies the named containers of a server (Docker names) and the images, volumes and
 * networks they use, in dependency order, the way the provider would create them.
 */
export async function applyServer(
  e: Evaluation,
  server: ServerName,
  containers: string[],
): Promise<ContainerPlan[]> {
  const d = engine(server);
  const plans = containers.map((n) => planContainer(find(e, T.container, n)));
  const n = needs(plans);
  // A container runs the image ID its RemoteImage resolved to (components/docker.ts): under
  // mocks that ID is computedState's stand-in, so it is mapped to the RemoteImage that yields
  // it, whose image is pulled as the provider would, and the container gets the real ID.
  for (const image of n.images) {
    const r = imageResource(e, image);
    const ri = reveal(r.inputs) as Record<string, unknown>;
    allowOnly(`image ${r.name}`, ri, ["name", "keepLocally", "pullTriggers"]);
    const name = String(ri.name);
    await ensureImage(d, name);
    if (image.startsWith("sha256:")) realImageIds.set(image, (await d.getImage(name).inspect()).Id);
  }
  for (const p of plans) {
    p.image = realImageId(p.image);
    p.create.Image = p.image;
  }
  for (const net of n.networks) {
    const r = find(e, T.network, net);
    const ni = reveal(r.inputs) as Record<string, unknown>;
    allowOnly(`network ${r.name}`, ni, ["name", "internal", "labels", "driver", "attachable"]);
    await d.createNetwork({
      Name: net,
      Driver: String(ni.driver ?? "bridge"),
      Internal: Boolean(ni.internal),
      Attachable: Boolean(ni.attachable),
      Labels: Object.fromEntries(
        ((ni.labels as { label: string; value: string }[]) ?? []).map((l) => [l.label, l.value]),
      ),
    });
  }
  for (const vol of n.volumes) {
    const r = find(e, T.volume, vol);
    const vi = reveal(r.inputs) as Record<string, unknown>;
    allowOnly(`volume ${r.name}`, vi, ["name", "labels", "driver"]);
    await d.createVolume({
      Name: vol,
      Driver: String(vi.driver ?? "local"),
      Labels: Object.fromEntries(
        ((vi.labels as { label: string; value: string }[]) ?? []).map((l) => [l.label, l.value]),
      ),
    });
  }
  // The provider sets VolumeOptions.Subpath only when the engine speaks API 1.45 and refuses
  // the mount otherwise (resource_docker_container_funcs.go:219-225); an older engine would
  // ignore the unknown field and mount the whole volume, so the harness refuses it the same way.
  if (plans.some((p) => p.create.HostConfig?.Mounts?.some((m) => m.VolumeOptions?.Subpath))) {
    const api = (await d.version()).ApiVersion;
    if (apiBelow(api, "1.45"))
      throw new Error(
        `harness: ${server}'s engine speaks API ${api}: Setting VolumeOptions.Subpath requires docker version 1.45 or higher`,
      );
  }
  // The host's Docker socket is, on a lab server, its own engine's socket on this machine
  // (each engine listens there; the servers share this machine's filesystem).
  for (const p of plans) {
    const binds = p.create.HostConfig?.Binds;
    if (binds)
      p.create.HostConfig!.Binds = binds.map((b) =>
        b.startsWith("/var/run/docker.sock:")
          ? `${lab().sockets[server]}${b.slice("/var/run/docker.sock".length)}`
          : b,
      );
  }
  for (const p of plans) await createAndStart(d, p);
  return plans;
}

/** Whether Docker API version `v` ("1.41") is older than `min`. */
export function apiBelow(v: string, min: string): boolean {
  const [a = 0, b = 0] = v.split(".").map(Number);
  const [c = 0, e = 0] = min.split(".").map(Number);
  return a < c || (a === c && b < e);
}

/**
 * create → disconnect the default bridge → connect networks_advanced → upload files → start
 * (the provider's order, resource_docker_container_funcs.go:257-583 at v4.5.0).
 */
export async function createAndStart(d: Docker, p: ContainerPlan): Promise<void> {
  const c = await d.createContainer(p.create);
  if (p.networks.length) {
    try {
      await d.getNetwork("bridge").disconnect({ Container: c.id, Force: false });
    } catch (e) {
      if (!/is not connected to the network bridge/.test(String(e))) throw e;
    }
  }
  for (const net of p.networks) {
    await d.getNetwork(net.name).connect({
      Container: c.id,
      ...(net.aliases ? { EndpointConfig: { Aliases: net.aliases } } : {}),
    });
  }
  if (p.uploads.length) await c.putArchive(tarOf(p.uploads), { path: "/" });
  await c.start();
  if (p.attach) {
    // The provider waits for it to stop and records its exit code (funcs.go:657-671, 811-817);
    // the harness also fails on a non-zero one, so a broken job cannot pass unseen.
    const r = (await c.wait({ condition: "not-running" })) as { StatusCode: number };
    if (r.StatusCode !== 0) {
      const logs = await c.logs({ stdout: true, stderr: true });
      throw new Error(`harness: ${p.name} exited ${r.StatusCode}: ${logs.toString()}`);
    }
  }
}

/** Removes a container and creates it again from its plan (a `pulumi up` replacement). */
export async function recreate(server: ServerName, p: ContainerPlan): Promise<void> {
  const d = engine(server);
  await destroyContainer(d, p.name, p.destroyGraceSeconds);
  await createAndStart(d, p);
}

/**
 * The provider's delete (resource_docker_container_funcs.go:1079-1131 at v4.5.0): stop with
 * destroy_grace_seconds as the timeout (0 when unset), then remove with remove_volumes (default
 * true, resource_docker_container.go:256-261).
 */
export async function destroyContainer(d: Docker, name: string, graceSeconds: number) {
  const c = d.getContainer(name);
  try {
    await c.stop({ t: graceSeconds });
  } catch (e) {
    const code = (e as { statusCode?: number }).statusCode;
    if (code !== 304) throw e; // 304: already stopped
  }
  await c.remove({ force: true, v: true });
}
