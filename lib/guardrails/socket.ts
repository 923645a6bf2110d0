/**
 * The Docker socket is root on the host. It reaches only the socket proxy, read-only, on an
 * internal network and with the API's write methods off, and Watchtower, which only watches;
 * Traefik, the one internet-facing container, talks to the proxy and never holds the socket.
 */
import { parseYamlOnce } from "../yaml-once";
import { TRAEFIK_PATHS } from "../../configs/traefik";
import {
  ContainerView,
  Finding,
  Guardrail,
  containers,
  finding,
  ofType,
  reveal,
  role,
  upload,
} from "./resources";

const SOCKET = /(^|\/)docker\.sock$/;
const NETWORK = "docker:index/network:Network";

export const dockerSocket: Guardrail = (e) => {
  const internal = new Set(
    ofType(e, NETWORK).flatMap((n) => {
      const i = reveal(n.inputs) as { name?: string; internal?: boolean };
      return i.internal === true && i.name ? [i.name] : [];
    }),
  );
  return containers(e).flatMap((c) => {
    const bad = (msg: string) => finding("docker-socket", e, c.resource, msg);
    const sockets = c.mounts.filter((m) => m.hostPath !== undefined && SOCKET.test(m.hostPath));
    const out: Finding[] = traefikEndpoint(c).map(bad);
    for (const m of sockets) {
      const r = role(c);
      if (r === "socket-proxy") {
        if (!m.readOnly)
          out.push(bad(`the socket proxy mounts ${m.hostPath} read-write: set readOnly: true`));
      } else if (r === "traefik") {
        out.push(
          bad(
            `Traefik mounts ${m.hostPath}: Traefik must reach Docker only through the read-only socket proxy (tcp://traefik-socket-proxy:2375); remove the mount`,
          ),
        );
      } else if (r !== "watchtower") {
        out.push(
          bad(
            `mounts ${m.hostPath}, which only the socket proxy (read-only) and Watchtower may hold: remove the mount`,
          ),
        );
      }
    }
    if (sockets.length === 0) return out;
    if (role(c) === "socket-proxy") out.push(...proxyLimits(c, internal).map(bad));
    if (role(c) === "watchtower") out.push(...watcherLimits(c).map(bad));
    return out;
  });
};

/** A read-only mount does not make the API read-only: the proxy must refuse writes itself. */
function proxyLimits(c: ContainerView, internal: Set<string>): string[] {
  const out: string[] = [];
  if ((c.env.POST ?? "0") !== "0")
    out.push(
      `the socket proxy lets clients write to the Docker API (POST=${c.env.POST}): set POST=0`,
    );
  const networks = (reveal(c.resource.inputs.networksAdvanced) ?? []) as { name: string }[];
  for (const n of networks.filter((x) => !internal.has(x.name)))
    out.push(
      `the socket proxy joins network "${n.name}", which is not internal: keep it on the internal socket network only`,
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
