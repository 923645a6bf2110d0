import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ScriptCapture } from "../configs/backup";
import {
  DOCKER_PROXY,
  DockerProxyScope,
  EXEC_START_BODY,
  HAPROXY_IMAGE,
  backupProxyName,
  execCreateBody,
  renderDockerProxyConfig,
} from "../configs/docker-proxy";
import type { ResolvedBackup } from "../lib/model";
import { homelabContainer, homelabNetwork, stopGraceSeconds, upload } from "./docker";

/** What a capture may do through the Docker API; undefined for captures that need none. */
export function captureScope(service: string, b: ResolvedBackup): DockerProxyScope | undefined {
  const c = b.capture;
  if (c.kind === "stop") return { stop: c.containers };
  if (c.kind === "hook")
    return {
      stop: [],
      exec: { container: service, commands: [c.pre, ...(c.post ? [c.post] : [])] },
    };
  return undefined;
}

export interface BackupProxyArgs {
  /** Pulumi name prefix (the service component's name). */
  logical: string;
  server: string;
  service: string;
  backup: ResolvedBackup;
  /** Images of the containers a stop capture stops, by name (for their stop grace). */
  images: Record<string, string>;
}

/**
 * The Docker API proxy of one backup job (`capture: stop` or `hook`): HAProxy with a generated
 * config that passes only the requests the capture needs (configs/docker-proxy.ts), on an
 * internal network that only the job's sidecar joins. The pinned Tecnativa socket proxy cannot
 * do this: with POST allowed, its start/stop rules match every container
 * (docker-socket-proxy v0.4.1 haproxy.cfg:48-53).
 */
export function backupProxy(
  args: BackupProxyArgs,
  opts: { parent: pulumi.Resource },
): { network: docker.Network; container: docker.Container; capture: ScriptCapture } | undefined {
  const scope = captureScope(args.service, args.backup);
  if (!scope) return undefined;
  const name = backupProxyName(args.service);
  const network = homelabNetwork(`${args.logical}-net`, name, true, opts);
  const container = homelabContainer(
    args.logical,
    {
      name,
      server: args.server,
      role: "backup-proxy",
      image: HAPROXY_IMAGE,
      // The official image runs as uid 99 since HAProxy 2.4, which cannot open the socket.
      user: "0:0",
      command: ["haproxy", "-W", "-db", "-f", DOCKER_PROXY.configPath],
      networks: [network.name],
      volumes: [
        { hostPath: DOCKER_PROXY.socket, containerPath: DOCKER_PROXY.socket, readOnly: true },
      ],
      uploads: [upload(DOCKER_PROXY.configPath, renderDockerProxyConfig(scope))],
    },
    { parent: opts.parent },
  );
  const dockerApi = `http://${name}:${DOCKER_PROXY.port}/v${DOCKER_PROXY.apiVersion}`;
  const c = args.backup.capture;
  const capture: ScriptCapture =
    c.kind === "stop"
      ? {
          kind: "stop",
          containers: c.containers,
          maxDowntime: c.maxDowntime,
          // The longest grace of the group: the same time `pulumi up` gives them to stop.
          stopGrace: Math.max(...c.containers.map((n) => stopGraceSeconds(args.images[n] ?? ""))),
          dockerApi,
        }
      : c.kind === "hook"
        ? {
            kind: "hook",
            container: args.service,
            preBody: execCreateBody(c.pre),
            ...(c.post ? { postBody: execCreateBody(c.post) } : {}),
            execStartBody: EXEC_START_BODY,
            timeout: c.timeout,
            dockerApi,
          }
        : (() => {
            throw new Error(`capture ${c.kind} has no proxy`);
          })();
  return { network, container, capture };
}
