/**
 * The Docker socket is root on the host. It reaches only the socket proxy, read-only, on an
 * internal network and with the API's write methods off, the backup jobs' own proxies
 * (read-only, each passing only its job's stop/start or exec: consistent-capture), and
 * Watchtower, which only watches;
 * Traefik, the one internet-facing container, talks to the proxy and never holds the socket.
 */
import { posix } from "node:path";
import { HOST_MOUNTS } from "../../components/defaults";
import { parseYamlOnce } from "../yaml-once";
import { TRAEFIK_PATHS } from "../../configs/traefik";
import {
  ContainerView,
  Finding,
  Guardrail,
  containers,
  finding,
  internalNetworks,
  networksOf,
  ofType,
  reveal,
  role,
  upload,
} from "./resources";

const SOCKET = /(^|\/)docker\.sock$/;
const VOLUME = "docker:index/volume:Volume";

/**
 * What a container runtime's API or storage lives at on a host; a mount of any of them, or of
 * a directory above one, is root on the host.
 * - Docker: /var/run/docker.sock (the client's default, moby client/client_unix.go
 *   DefaultDockerHost), rootless $XDG_RUNTIME_DIR/docker.sock
 *   (https://docs.docker.com/engine/security/rootless/), and its data root /var/lib/docker
 *   (dockerd --data-root default, https://docs.docker.com/reference/cli/dockerd/): every
 *   container's filesystem and volume, the engine's state.
 * - containerd: /run/containerd/containerd.sock (containerd docs/ops.md, the default grpc
 *   address), and its state under /var/lib/containerd.
 * - Podman: /run/podman/podman.sock, rootless $XDG_RUNTIME_DIR/podman/podman.sock
 *   (podman-system-service(1), https://docs.podman.io/en/latest/markdown/podman-system-service.1.html),
 *   storage under /var/lib/containers.
 * /var/run is a symbolic link to /run on current distributions (systemd's file-hierarchy(7));
 * both spellings are compared as /run. A `<uid>` stands for any user's runtime directory.
 */
export const RUNTIME_PATHS: readonly { path: string; what: string }[] = [
  { path: "/run/docker.sock", what: "the Docker socket" },
  { path: "/run/user/<uid>/docker.sock", what: "a rootless Docker socket" },
  { path: "/var/lib/docker", what: "Docker's data root" },
  { path: "/run/containerd/containerd.sock", what: "the containerd socket" },
  { path: "/var/lib/containerd", what: "containerd's data root" },
  { path: "/run/podman/podman.sock", what: "the Podman socket" },
  { path: "/run/user/<uid>/podman/podman.sock", what: "a rootless Podman socket" },
  { path: "/var/lib/containers", what: "Podman's storage" },
];

/** A host path as the kernel resolves it: normalized, no trailing "/", /var/run read as /run. */
export function canonicalHostPath(p: string): string {
  const n = posix.normalize(`/${p}`).replace(/\/+$/, "") || "/";
  return n === "/var/run" || n.startsWith("/var/run/") ? n.slice(4) : n;
}

/**
 * The runtime paths a host-path mount of `hostPath` reaches: those it is, lies inside of (a
 * data root) or contains (a parent directory of a socket).
 */
export function runtimePathsIn(hostPath: string): { path: string; what: string }[] {
  const mount = canonicalHostPath(hostPath).split("/").filter(Boolean);
  return RUNTIME_PATHS.filter((r) => {
    const target = r.path.split("/").filter(Boolean);
    const n = Math.min(mount.length, target.length);
    for (let i = 0; i < n; i++) {
      if (target[i] !== "<uid>" && target[i] !== mount[i]) return false;
    }
    // The mount is the path or a parent of it, or lies inside a data root (not inside a socket).
    return mount.length <= target.length || !r.path.endsWith(".sock");
  });
}

export const dockerSocket: Guardrail = (e) => {
  const internal = internalNetworks(e);
  const bindVolumes = bindMountedVolumes(e);
  const volumeFindings = ofType(e, VOLUME).flatMap((v) => {
    const device = bindVolumes.get(String(reveal(v.inputs.name)));
    if (device === undefined) return [];
    return [
      finding(
        "docker-socket",
        e,
        v,
        `binds host path ${device} (driver options type/o/device): ${hostPathProblem(device)}`,
      ),
    ];
  });
  return [
    ...volumeFindings,
    ...containers(e).flatMap((c) => {
      const bad = (msg: string) => finding("docker-socket", e, c.resource, msg);
      const sockets = c.mounts.filter((m) => m.hostPath !== undefined && SOCKET.test(m.hostPath));
      const out: Finding[] = traefikEndpoint(c).map(bad);
      for (const m of c.mounts) {
        if (m.hostPath === undefined) continue;
        const declared = HOST_MOUNTS.some((h) => h.role === role(c) && h.hostPath === m.hostPath);
        if (declared) continue;
        // A socket itself is reported below, with who may hold it.
        if (SOCKET.test(m.hostPath)) continue;
        out.push(bad(`mounts host path ${m.hostPath}: ${hostPathProblem(m.hostPath)}`));
      }
      for (const m of sockets) {
        const r = role(c);
        if (r === "socket-proxy" || r === "backup-proxy") {
          if (!m.readOnly)
            out.push(
              bad(
                `${r === "socket-proxy" ? "the socket proxy" : "the backup job's Docker proxy"} mounts ${m.hostPath} read-write: set readOnly: true`,
              ),
            );
        } else if (r === "traefik") {
          out.push(
            bad(
              `Traefik mounts ${m.hostPath}: Traefik must reach Docker only through the read-only socket proxy (tcp://traefik-socket-proxy:2375); remove the mount`,
            ),
          );
        } else if (r !== "watchtower") {
          out.push(
            bad(
              `mounts ${m.hostPath}, which only the read-only socket proxies (of Traefik and of backup jobs) and Watchtower may hold: remove the mount`,
            ),
          );
        }
      }
      if (sockets.length === 0) return out;
      if (role(c) === "socket-proxy") out.push(...proxyLimits(c, internal).map(bad));
      if (role(c) === "watchtower") out.push(...watcherLimits(c).map(bad));
      return out;
    }),
  ];
};

/** Why a host-path mount nobody declared is refused, naming the runtime paths it reaches. */
function hostPathProblem(hostPath: string): string {
  const reached = runtimePathsIn(hostPath);
  if (reached.length === 0)
    return "no component declares it (HOST_MOUNTS in components/defaults.ts): use a named volume";
  return `it gives the container ${reached.map((r) => `${r.what} (${r.path})`).join(", ")}, i.e. root on the host: remove the mount`;
}

/**
 * Named volumes that are host directories in disguise: the local driver with `o: bind` and a
 * `device` (https://docs.docker.com/engine/storage/volumes/#create-a-local-volume, "bind").
 */
function bindMountedVolumes(e: Parameters<Guardrail>[0]): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of ofType(e, VOLUME)) {
    const opts = (reveal(v.inputs.driverOpts) ?? {}) as Record<string, unknown>;
    const o = String(opts.o ?? "");
    if (typeof opts.device === "string" && /(^|,)bind(,|$)/.test(o))
      out.set(String(reveal(v.inputs.name)), opts.device);
  }
  return out;
}

/** A read-only mount does not make the API read-only: the proxy must refuse writes itself. */
function proxyLimits(c: ContainerView, internal: Set<string>): string[] {
  const out: string[] = [];
  if ((c.env.POST ?? "0") !== "0")
    out.push(
      `the socket proxy lets clients write to the Docker API (POST=${c.env.POST}): set POST=0`,
    );
  for (const n of networksOf(c).filter((x) => !internal.has(x)))
    out.push(
      `the socket proxy joins network "${n}", which is not internal: keep it on the internal socket network only`,
    );
  return out;
}

/** Watchtower recreating a Pulumi container gives it a new ID and breaks Pulumi's state. */
function watcherLimits(c: ContainerView): string[] {
  const out: string[] = [];
  if (c.env.WATCHTOWER_MONITOR_ONLY !== "true")
    out.push(
      `Watchtower may recreate containers Pulumi owns (WATCHTOWER_MONITOR_ONLY is not "true"), which breaks Pulumi's state: run it monitor-only and let pulumi up apply updates`,
    );
  if (c.env.WATCHTOWER_LABEL_ENABLE !== "true")
    out.push(
      `Watchtower watches every container (WATCHTOWER_LABEL_ENABLE is not "true"): set it so only labelled containers are watched`,
    );
  return out;
}

/** Traefik's Docker provider talks to the socket proxy over TCP, never to a unix socket. */
function traefikEndpoint(c: ContainerView): string[] {
  if (role(c) !== "traefik") return [];
  let endpoint: unknown;
  try {
    const cfg = parseYamlOnce(upload(c, TRAEFIK_PATHS.static) ?? "") as {
      providers?: { docker?: { endpoint?: unknown } };
    };
    endpoint = cfg?.providers?.docker?.endpoint;
  } catch {
    endpoint = undefined;
  }
  if (typeof endpoint === "string" && endpoint.startsWith("tcp://")) return [];
  return [
    `Traefik's Docker provider endpoint is ${JSON.stringify(endpoint ?? "the default unix socket")}: point it at the socket proxy (tcp://traefik-socket-proxy:2375)`,
  ];
}
