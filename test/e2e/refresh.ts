/**
 * A model of `pulumi refresh` for the Docker resources the harness applied: each container,
 * volume, network and image is read back from the engine the way kreuzwerker/terraform-provider-
 * docker v4.5.0 (bridged by @pulumi/docker) maps it into state, and compared with the inputs the
 * program registered. A non-empty diff is a perpetual diff for `pulumi refresh --preview-only
 * --expect-no-changes`. Fields the provider does not read keep their state value (= the program's
 * input) and cannot drift: env and labels (resource_docker_container_funcs.go:893-898, "We decided
 * not to set the environment variables and labels"), volumes (funcs.go:882 `// volumes`), upload
 * (funcs.go:959 "upload can't be imported"), networks_advanced (read only when empty, i.e. on
 * import, funcs.go:786-796), destroy_grace_seconds (funcs.go:931).
 */
import type Docker from "dockerode";
import type { Evaluation, RegisteredResource } from "../../cli/evaluate";
import { reveal } from "../../cli/evaluate";
import { engine, imageResource, realImageId } from "./harness";
import type { ServerName } from "./lab";
import { T } from "../helpers";

export interface Drift {
  resource: string;
  field: string;
  program: unknown;
  read: unknown;
}

/** Go's time.Duration.String() for a duration in nanoseconds (e.g. 60e9 → "1m0s"). */
export function goDuration(ns: number): string {
  if (ns === 0) return "0s";
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    const [unit, div] = u < 1e3 ? ["ns", 1] : u < 1e6 ? ["µs", 1e3] : ["ms", 1e6];
    out = `${trim(u / (div as number))}${unit as string}`;
  } else {
    const h = Math.floor(u / 3600e9);
    u -= h * 3600e9;
    const m = Math.floor(u / 60e9);
    u -= m * 60e9;
    const s = `${trim(u / 1e9)}s`;
    out = h ? `${h}h${m}m${s}` : m ? `${m}m${s}` : s;
  }
  return (neg ? "-" : "") + out;
}
const trim = (x: number) => String(Number(x.toFixed(9)));

const canon = (v: unknown): unknown => {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.length ? v.map(canon) : null;
  if (typeof v === "object") {
    const e = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined && x !== null)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return e.length ? Object.fromEntries(e.map(([k, x]) => [k, canon(x)])) : null;
  }
  if (v === "" || v === false || v === 0) return null; // the zero value, as the SDK's GetOk sees it
  return v;
};
const sortJson = (xs: unknown[] | undefined | null) =>
  (xs ?? []).map((x) => JSON.stringify(canon(x))).sort();

function cmp(out: Drift[], resource: string, field: string, program: unknown, read: unknown) {
  if (JSON.stringify(canon(program)) !== JSON.stringify(canon(read)))
    out.push({ resource, field, program, read });
}
function cmpSet(
  out: Drift[],
  resource: string,
  field: string,
  program: unknown[],
  read: unknown[],
) {
  if (JSON.stringify(sortJson(program)) !== JSON.stringify(sortJson(read)))
    out.push({ resource, field, program, read });
}
const labelSet = (m: Record<string, string> | null | undefined) =>
  Object.entries(m ?? {}).map(([label, value]) => ({ label, value }));

/** resourceDockerContainerRead (funcs.go:750-981) against the registered inputs. */
export async function refreshContainer(d: Docker, r: RegisteredResource): Promise<Drift[]> {
  const i = reveal(r.inputs) as Record<string, any>;
  const out: Drift[] = [];
  const c = (await d.getContainer(String(i.name)).inspect()) as any;
  const id = `container ${String(i.name)}`;
  const H = c.HostConfig;
  const C = c.Config;
  cmp(out, id, "name", i.name, String(c.Name).replace(/^\/+/, "")); // funcs.go:828
  // image: .Image when the state value starts with sha256:, else Config.Image (funcs.go:840-846)
  // In state the image is the ID the RemoteImage resolved to: in the lab, the real one.
  const image = realImageId(String(i.image));
  cmp(out, id, "image", image, image.startsWith("sha256:") ? c.Image : C.Image);
  // Optional+Computed (schema resource_docker_container.go:148,163,172): compared when set.
  if (i.hostname !== undefined) cmp(out, id, "hostname", i.hostname, C.Hostname); // :848
  if (i.command !== undefined) cmp(out, id, "command", i.command, C.Cmd); // :850
  if (i.entrypoints !== undefined) cmp(out, id, "entrypoint", i.entrypoints, C.Entrypoint); // :851
  // user: DiffSuppressFunc treats a configured "" as no change (schema :181-194)
  if (i.user) cmp(out, id, "user", i.user, C.User); // :852
  cmp(out, id, "restart", i.restart ?? "no", H.RestartPolicy?.Name); // :858, default "no"
  cmp(out, id, "max_retry_count", i.maxRetryCount ?? 0, H.RestartPolicy?.MaximumRetryCount);
  // log_driver is Computed (schema :886-892); log_opts is read only when set (funcs.go:983-989)
  if (i.logDriver !== undefined) cmp(out, id, "log_driver", i.logDriver, H.LogConfig?.Type);
  if (i.logOpts !== undefined) {
    const want = Object.fromEntries(
      Object.entries(i.logOpts as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
    );
    cmp(out, id, "log_opts", want, H.LogConfig?.Config);
  }
  cmp(out, id, "network_mode", i.networkMode ?? "bridge", H.NetworkMode); // :950, default bridge
  // mounts: getDockerContainerMounts (structures.go:388-439) → target, source, type, read_only
  cmpSet(
    out,
    id,
    "mounts",
    // volume_options read when the engine returns VolumeOptions (structures.go:404-424), with
    // no_copy and labels always and subpath when set.
    ((i.mounts as any[]) ?? []).map((m) => ({
      target: m.target,
      source: m.source ?? "",
      type: m.type,
      read_only: Boolean(m.readOnly),
      volume_options: m.volumeOptions && {
        no_copy: Boolean(m.volumeOptions.noCopy),
        subpath: m.volumeOptions.subpath,
      },
    })),
    ((H.Mounts as any[]) ?? []).map((m) => ({
      target: m.Target,
      source: m.Source ?? "",
      type: m.Type,
      read_only: Boolean(m.ReadOnly),
      volume_options: m.VolumeOptions && {
        no_copy: Boolean(m.VolumeOptions.NoCopy),
        subpath: m.VolumeOptions.Subpath,
      },
    })),
  );
  // ports: read only when set, from NetworkSettings.Ports (funcs.go:800-806,
  // flattenContainerPorts structures.go:35-59); ip defaults to 0.0.0.0, protocol to tcp.
  if (i.ports !== undefined && (c.State.Running || i.mustRun !== false)) {
    const read: unknown[] = [];
    for (const [key, bindings] of Object.entries(
      (c.NetworkSettings?.Ports ?? {}) as Record<string, any[] | null>,
    )) {
      const [port, protocol] = key.split("/");
      for (const b of bindings ?? [])
        read.push({
          internal: Number(port),
          external: Number(b.HostPort),
          ip: b.HostIp,
          protocol,
        });
    }
    const want = (i.ports as any[]).map((p) => ({
      internal: Number(p.internal),
      external: Number(p.external),
      ip: p.ip ?? "0.0.0.0",
      protocol: p.protocol ?? "tcp",
    }));
    // TypeList: order matters; the provider sorts by port and protocol.
    cmp(out, id, "ports", want, read);
  }
  // healthcheck: Optional+Computed (schema :1045-1100); durations read as Go's
  // time.Duration.String() (funcs.go:954-965), unset sub-fields default to "0s" / 0.
  if (i.healthcheck !== undefined && C.Healthcheck) {
    const h = i.healthcheck as Record<string, any>;
    const hc = C.Healthcheck;
    cmp(
      out,
      id,
      "healthcheck",
      {
        test: h.tests,
        interval: h.interval ?? "0s",
        timeout: h.timeout ?? "0s",
        start_period: h.startPeriod ?? "0s",
        start_interval: h.startInterval ?? "0s",
        retries: h.retries ?? 0,
      },
      {
        test: hc.Test,
        interval: goDuration(hc.Interval ?? 0),
        timeout: goDuration(hc.Timeout ?? 0),
        start_period: goDuration(hc.StartPeriod ?? 0),
        start_interval: goDuration(hc.StartInterval ?? 0),
        retries: hc.Retries ?? 0,
      },
    );
  }
  // must_run (default true) is set to false when the container is not running (funcs.go:811-823).
  cmp(out, id, "must_run", i.mustRun ?? true, c.State.Running ? (i.mustRun ?? true) : false);
  // Optional, not Computed, read unconditionally: the program leaves them unset (zero).
  const zero: [string, unknown][] = [
    ["domainname", C.Domainname], // :849
    ["dns", H.Dns],
    ["dns_opts", H.DnsOptions],
    ["dns_search", H.DnsSearch],
    ["publish_all_ports", H.PublishAllPorts],
    ["rm", H.AutoRemove],
    ["read_only", H.ReadonlyRootfs],
    ["tmpfs", H.Tmpfs],
    ["host", H.ExtraHosts],
    ["privileged", H.Privileged],
    ["memory", Math.floor((H.Memory ?? 0) / 1024 / 1024)],
    ["memory_reservation", Math.floor((H.MemoryReservation ?? 0) / 1024 / 1024)],
    ["memory_swap", H.MemorySwap > 0 ? Math.floor(H.MemorySwap / 1024 / 1024) : H.MemorySwap],
    ["cpu_shares", H.CpuShares],
    ["cpu_set", H.CpusetCpus],
    ["storage_opts", H.StorageOpt],
    ["userns_mode", H.UsernsMode],
    ["sysctls", H.Sysctls],
    ["group_add", H.GroupAdd],
    ["tty", C.Tty],
    ["stdin_open", C.OpenStdin],
  ];
  for (const [field, read] of zero) cmp(out, id, field, null, read);
  return out;
}

/** resourceDockerVolumeRead (resource_docker_volume.go:288-360): name, labels, driver, driver_opts. */
export async function refreshVolume(d: Docker, r: RegisteredResource): Promise<Drift[]> {
  const i = reveal(r.inputs) as Record<string, any>;
  const out: Drift[] = [];
  const v = (await d.getVolume(String(i.name)).inspect()) as any;
  const id = `volume ${String(i.name)}`;
  cmp(out, id, "name", i.name, v.Name);
  cmpSet(out, id, "labels", i.labels ?? [], labelSet(v.Labels));
  if (i.driver !== undefined) cmp(out, id, "driver", i.driver, v.Driver); // Computed
  cmp(out, id, "driver_opts", i.driverOpts ?? null, v.Options);
  return out;
}

/**
 * resourceDockerNetworkReadRefreshFunc (resource_docker_network_funcs.go:160-203): name, labels,
 * driver, internal, attachable, ingress, ipv6, ipam_driver, ipam_options, options, ipam_config.
 */
export async function refreshNetwork(d: Docker, r: RegisteredResource): Promise<Drift[]> {
  const i = reveal(r.inputs) as Record<string, any>;
  const out: Drift[] = [];
  const n = (await d.getNetwork(String(i.name)).inspect()) as any;
  const id = `network ${String(i.name)}`;
  cmp(out, id, "name", i.name, n.Name);
  cmpSet(out, id, "labels", i.labels ?? [], labelSet(n.Labels));
  // driver, options, internal are Optional+Computed (resource_docker_network.go:40-62)
  if (i.driver !== undefined) cmp(out, id, "driver", i.driver, n.Driver);
  if (i.internal !== undefined) cmp(out, id, "internal", i.internal, n.Internal);
  cmp(out, id, "attachable", i.attachable ?? false, n.Attachable);
  cmp(out, id, "ingress", i.ingress ?? false, n.Ingress);
  cmp(out, id, "ipv6", i.ipv6 ?? false, n.EnableIPv6);
  cmp(out, id, "ipam_driver", i.ipamDriver ?? "default", n.IPAM?.Driver); // default "default"
  cmp(out, id, "ipam_options", i.ipamOptions ?? null, n.IPAM?.Options);
  return out;
}

/**
 * resourceDockerImageRead (resource_docker_image_funcs.go:103-132): looks the name up locally
 * and sets only the computed image_id and repo_digest; an image no longer present empties the
 * ID (the resource is gone and would be created again).
 */
export async function refreshImage(d: Docker, r: RegisteredResource): Promise<Drift[]> {
  const i = reveal(r.inputs) as Record<string, any>;
  try {
    await d.getImage(String(i.name)).inspect();
    return [];
  } catch {
    return [{ resource: `image ${String(i.name)}`, field: "id", program: "present", read: "" }];
  }
}

/** The registered resources a server's named containers use (the ones the harness applies). */
export function appliedResources(e: Evaluation, containers: string[]): RegisteredResource[] {
  const named = (type: string, name: string) =>
    e.resources.find((x) => x.type === type && reveal(x.inputs.name) === name);
  const out: RegisteredResource[] = [];
  for (const n of containers) {
    const c = named(T.container, n)!;
    const i = reveal(c.inputs) as Record<string, any>;
    out.push(c);
    const img = imageResource(e, String(i.image));
    if (!out.includes(img)) out.push(img);
    for (const net of (i.networksAdvanced as any[]) ?? []) {
      const r = named(T.network, String(net.name));
      if (r && !out.includes(r)) out.push(r);
    }
    for (const v of (i.volumes as any[]) ?? []) {
      const r = v.volumeName && named(T.volume, String(v.volumeName));
      if (r && !out.includes(r)) out.push(r);
    }
  }
  return out;
}

/** Every drift between the engine and the program's inputs, for a server's applied containers. */
export async function refreshServer(
  e: Evaluation,
  server: ServerName,
  containers: string[],
): Promise<Drift[]> {
  const d = engine(server);
  const out: Drift[] = [];
  for (const r of appliedResources(e, containers)) {
    const read =
      r.type === T.container
        ? refreshContainer
        : r.type === T.volume
          ? refreshVolume
          : r.type === T.network
            ? refreshNetwork
            : refreshImage;
    out.push(...(await read(d, r)).map((x) => ({ ...x, resource: `${server} ${x.resource}` })));
  }
  return out;
}

/**
 * What a second `pulumi up` would change: the inputs of a new evaluation against those of the
 * applied one (the state, since the refresh found no drift), per resource and input.
 */
export function secondApplyChanges(
  before: Evaluation,
  after: Evaluation,
  containers: string[],
): { resource: string; input: string; before: unknown; after: unknown }[] {
  const out: { resource: string; input: string; before: unknown; after: unknown }[] = [];
  const now = new Map(after.resources.map((r) => [`${r.type}::${r.name}`, r]));
  for (const r of appliedResources(before, containers)) {
    const n = now.get(`${r.type}::${r.name}`);
    const a = reveal(r.inputs) as Record<string, unknown>;
    if (!n) {
      out.push({ resource: r.name, input: "(resource)", before: "present", after: "absent" });
      continue;
    }
    const b = reveal(n.inputs) as Record<string, unknown>;
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k]))
        out.push({ resource: r.name, input: k, before: a[k], after: b[k] });
  }
  return out;
}
