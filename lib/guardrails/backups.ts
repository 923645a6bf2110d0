/**
 * Guardrails on data: every stateful volume of a service is backed up, its repository is
 * replicated receive-only to another server and verified there, and every scheduled backup,
 * check and drill job reports a heartbeat to Gatus.
 */
import { parseYamlOnce } from "../yaml-once";
import type { Evaluation } from "../../cli/evaluate";
import { BACKUP_PATHS } from "../../configs/backup";
import { CAPTURE_KINDS } from "../model";
import {
  DOCKER_PROXY,
  HAPROXY_IMAGE,
  backupProxyName,
  dockerProxyScope,
  execCreateBody,
  usesDockerApi,
} from "../../configs/docker-proxy";
import { SYNCTHING_PATHS } from "../../configs/syncthing";
import { REBUILT_VOLUMES } from "../../components/defaults";
import {
  ContainerView,
  Finding,
  Guardrail,
  containers,
  finding,
  imageReference,
  internalNetworks,
  networksOf,
  reveal,
  role,
  upload,
  volumes,
} from "./resources";

/** A shell assignment `NAME='value'` in a generated script ("" when absent). */
export function shellVar(script: string, name: string): string {
  return new RegExp(`(?:^|\\s)${name}='([^']*)'`, "m").exec(script)?.[1] ?? "";
}

/** The repositories a backup script works on, with each job's heartbeat key. */
export function scriptRepos(script: string) {
  return [
    ...script.matchAll(
      /export RESTIC_REPOSITORY='([^']*)'[^\n]*\n\s*(HB_[^\n]*(?:\n\s*HB_[^\n]*)*)/g,
    ),
  ].map((m) => ({
    repository: m[1]!,
    heartbeats: {
      backup: shellVar(m[2]!, "HB_BACKUP"),
      check: shellVar(m[2]!, "HB_CHECK"),
      drill: shellVar(m[2]!, "HB_DRILL"),
      verify: shellVar(m[2]!, "HB_VERIFY"),
      downtime: shellVar(m[2]!, "HB_DOWNTIME"),
    } as Record<string, string>,
  }));
}

export const scriptOf = (c: ContainerView) => upload(c, BACKUP_PATHS.script) ?? "";

/**
 * Every data volume a service or a standard component mounts is copied by its `<name>-backup`
 * sidecar, or dumped; only the components' volumes REBUILT_VOLUMES names (with why each may be
 * lost) go without. Backup jobs themselves are not asked for a backup of what they read.
 */
export const backedUp: Guardrail = (e) => {
  const all = containers(e);
  const data = new Set(
    volumes(e).flatMap((v) => (v.kind === "data" && !(v.name in REBUILT_VOLUMES) ? [v.name] : [])),
  );
  return all
    .filter((c) => role(c) !== "backup")
    .flatMap((c) => {
      const sidecar = all.find((x) => x.name === `${c.name}-backup` && role(x) === "backup");
      const script = sidecar ? scriptOf(sidecar) : "";
      const copied = shellVar(script, "BACKUP_VOLUMES").split(" ").filter(Boolean);
      const dumped = shellVar(script, "DUMP_COMMAND") !== "";
      return c.mounts.flatMap((m): Finding[] => {
        if (!m.volumeName || !data.has(m.volumeName)) return [];
        const short = m.volumeName.startsWith(`${c.name}-`)
          ? m.volumeName.slice(c.name.length + 1)
          : m.volumeName;
        const mount = sidecar?.mounts.find(
          (x) =>
            x.volumeName === m.volumeName && x.containerPath === `${BACKUP_PATHS.data}/${short}`,
        );
        if (mount && !mount.readOnly)
          return [
            finding(
              "backed-up",
              e,
              sidecar!.resource,
              `mounts data volume "${m.volumeName}" read-write: a backup only reads, mount it readOnly`,
            ),
          ];
        if ((mount && copied.includes(short)) || dumped) return [];
        if (role(c) !== "service")
          return [
            finding(
              "backed-up",
              e,
              c.resource,
              `data volume "${m.volumeName}" of the standard component ${c.name} is not backed up (no ${c.name}-backup copies it): back it up in componentStates (components/component-state.ts), or name it in REBUILT_VOLUMES (components/defaults.ts) with why it may be lost`,
            ),
          ];
        return [
          finding(
            "backed-up",
            e,
            c.resource,
            `data volume "${m.volumeName}" is not backed up (no ${c.name}-backup copies it and there is no dump): drop it from backup.skipVolumes or add a backup.dump, or declare it kind: "cache" if it can be lost`,
          ),
        ];
      });
    });
};

/**
 * Every backup says how it captures its data consistently (`CAPTURE` in its script), and does
 * what it says: a `sqlite` capture copies databases of volumes it backs up; a `stop` or `hook`
 * capture reaches Docker only through its own proxy, whose scope is its own service (its
 * group, for `stop`), on a network no other container joins.
 */
export const consistentCapture: Guardrail = (e) => {
  const all = containers(e);
  const internal = internalNetworks(e);
  const out: Finding[] = [];
  for (const sidecar of all.filter((c) => role(c) === "backup")) {
    const script = scriptOf(sidecar);
    if (shellVar(script, "MODE") !== "writer") continue;
    const service = sidecar.name.replace(/-backup$/, "");
    const bad = (r: ContainerView, msg: string) =>
      out.push(finding("consistent-capture", e, r.resource, msg));
    const capture = shellVar(script, "CAPTURE");
    if (!(CAPTURE_KINDS as readonly string[]).includes(capture)) {
      bad(
        sidecar,
        `backs up ${service} without saying how its data is captured consistently (CAPTURE=${JSON.stringify(capture)}): declare backup.capture (files, sqlite, dump, stop or hook; docs/restore.md)`,
      );
      continue;
    }
    const copied = shellVar(script, "BACKUP_VOLUMES").split(" ").filter(Boolean);
    const dbs = shellVar(script, "DATABASES").split(" ").filter(Boolean);
    if (capture === "sqlite" && dbs.length === 0)
      bad(sidecar, `capture "sqlite" names no database: list them in backup.databases`);
    for (const db of dbs.filter((d) => !copied.includes(d.split("/")[0]!)))
      bad(sidecar, `database ${db} is not in a volume this backup copies (${copied.join(", ")})`);
    if (capture === "dump" && shellVar(script, "DUMP_COMMAND") === "")
      bad(sidecar, `capture "dump" runs no dump: declare backup.dump`);
    const proxyName = backupProxyName(service);
    const proxy = all.find((c) => c.name === proxyName && role(c) === "backup-proxy");
    const api = shellVar(script, "DOCKER_API");
    if (!usesDockerApi(capture)) {
      if (api !== "" || proxy)
        bad(
          sidecar,
          `capture "${capture}" needs no Docker API, yet it has one (${api || proxyName}): remove it`,
        );
      continue;
    }
    if (!proxy) {
      bad(sidecar, `capture "${capture}" has no Docker API proxy ${proxyName} of its own`);
      continue;
    }
    if (!api.startsWith(`http://${proxyName}:`))
      bad(
        sidecar,
        `reaches the Docker API at ${JSON.stringify(api)}, not through its own proxy ${proxyName}`,
      );
    const scope = dockerProxyScope(upload(proxy, DOCKER_PROXY.configPath) ?? "");
    if (!scope) {
      bad(
        proxy,
        `its HAProxy config is not one homelab generates (configs/docker-proxy.ts): its scope cannot be checked`,
      );
      continue;
    }
    const own = all.find((c) => c.name === service && role(c) === "service");
    const groupNets = new Set((own ? networksOf(own) : []).filter((n) => n !== "homelab-proxy"));
    for (const name of scope.stop) {
      const target = all.find((c) => c.name === name);
      const sameGroup =
        name === service || (target && networksOf(target).some((n) => groupNets.has(n)));
      if (!target || role(target) !== "service" || !sameGroup)
        bad(
          proxy,
          `may stop and start ${name}, which is not ${service} or a service of its group: a backup job may stop only its own service`,
        );
    }
    if (imageReference(e, proxy.resource) !== HAPROXY_IMAGE)
      bad(
        proxy,
        `runs ${imageReference(e, proxy.resource)}, not ${HAPROXY_IMAGE}: only the pinned HAProxy reads the generated allow-list`,
      );
    if (proxy.ports.length > 0) bad(proxy, `publishes ports: only ${sidecar.name} may reach it`);
    if (reveal(proxy.resource.inputs.networkMode) !== undefined)
      bad(proxy, `sets a network mode: it must be on its own network ${proxyName} only`);
    if (JSON.stringify(networksOf(proxy)) !== JSON.stringify([proxyName]))
      bad(
        proxy,
        `joins [${networksOf(proxy).join(", ")}]: it must be on its own network ${proxyName} only`,
      );
    if (capture === "stop") {
      const wanted = shellVar(script, "STOP_CONTAINERS").split(" ").filter(Boolean).sort();
      // The whole group: a service left running could write to what the snapshot reads.
      const group = all.filter(
        (c) =>
          role(c) === "service" &&
          c.name !== service &&
          networksOf(c).some((n) => groupNets.has(n)),
      );
      for (const g of group.filter((c) => !wanted.includes(c.name)))
        bad(
          sidecar,
          `stops ${wanted.join(", ")} but not ${g.name}, which is in its group: a stop capture stops the whole group`,
        );
      if (JSON.stringify([...scope.stop].sort()) !== JSON.stringify(wanted))
        bad(
          proxy,
          `allows stop/start of [${scope.stop.join(", ")}] but the job stops [${wanted.join(", ")}]`,
        );
      if (scope.exec)
        bad(proxy, `allows exec in ${scope.exec.container}, which a stop capture never needs`);
    }
    if (capture === "hook") {
      if (!scope.exec || scope.exec.container !== service)
        bad(proxy, `allows exec in ${scope.exec?.container ?? "nothing"}, not in ${service}`);
      if (scope.stop.length > 0)
        bad(
          proxy,
          `allows stop/start of [${scope.stop.join(", ")}], which a hook capture never needs`,
        );
      const bodies = (scope.exec?.commands ?? []).map(execCreateBody).sort();
      const sent = ["HOOK_PRE", "HOOK_POST"]
        .map((k) => shellVar(script, k))
        .filter(Boolean)
        .sort();
      if (JSON.stringify(bodies) !== JSON.stringify(sent))
        bad(proxy, `allows other commands than the job's hook.pre and hook.post`);
    }
    // Its network: internal, and shared by the proxy and this sidecar only.
    for (const n of networksOf(proxy)) {
      if (!internal.has(n)) bad(proxy, `joins network "${n}", which is not internal`);
      const others = all.filter((c) => c !== proxy && c !== sidecar && networksOf(c).includes(n));
      if (others.length > 0)
        bad(
          proxy,
          `shares network "${n}" with ${others.map((c) => c.name).join(", ")}: only ${sidecar.name} may reach it`,
        );
    }
  }
  // A proxy with no job of its own is a Docker API nobody should hold.
  for (const p of all.filter((c) => role(c) === "backup-proxy")) {
    const job = all.find((c) => c.name === p.name.replace(/-docker$/, "") && role(c) === "backup");
    if (!job)
      out.push(
        finding(
          "consistent-capture",
          e,
          p.resource,
          `a backup Docker proxy without its backup job: remove it`,
        ),
      );
  }
  return out;
};

interface Folder {
  id: string;
  path: string;
  type: string;
  devices: string[];
}

/** Folders of a server's Syncthing config.xml. */
export function syncthingFolders(e: Evaluation): Folder[] {
  const st = containers(e).find((c) => role(c) === "syncthing");
  const xml = (st && upload(st, `${SYNCTHING_PATHS.config}/config.xml`)) ?? "";
  return [...xml.matchAll(/<folder ([^>]*)>([\s\S]*?)<\/folder>/g)].map((m) => {
    const attr = (k: string) => new RegExp(`\\b${k}="([^"]*)"`).exec(m[1]!)?.[1] ?? "";
    return {
      id: attr("id"),
      path: attr("path"),
      type: attr("type"),
      devices: [...m[2]!.matchAll(/<device id="([^"]+)"/g)].map((d) => d[1]!),
    };
  });
}

/** The Syncthing device ID a server publishes. */
function deviceId(e: Evaluation): string {
  const st = e.outputs.syncthing as { deviceId?: unknown } | undefined;
  return typeof st?.deviceId === "string" ? st.deviceId : "";
}

/**
 * The repository of every backup sidecar sits in a send-only folder that at least one other
 * server receives receive-only (from this server's device) and verifies with `restic check`.
 */
export const replicated: Guardrail = (e, ctx) => {
  const own = syncthingFolders(e);
  const id = deviceId(e);
  const others = Object.values(ctx.fleet).filter((x) => x.stack !== e.stack);
  return containers(e)
    .filter((c) => role(c) === "backup")
    .flatMap((c) =>
      scriptRepos(scriptOf(c)).flatMap(({ repository }): Finding[] => {
        const bad = (msg: string) => [finding("replicated", e, c.resource, msg)];
        const folder = own.find((f) => repository.startsWith(`${f.path}/`));
        if (!folder)
          return bad(
            `repository ${repository} is in no Syncthing folder on ${e.stack}: keep repositories under /backups/${e.stack}`,
          );
        if (folder.type !== "sendonly")
          return bad(
            `folder "${folder.id}" holding ${repository} is ${folder.type || "sendreceive"}: the writer must share it sendonly`,
          );
        // Shared both ways: the writer lists the receiver's device, the receiver the writer's.
        const receivers = others.filter(
          (o) =>
            folder.devices.includes(deviceId(o)) &&
            syncthingFolders(o).some(
              (f) => f.id === folder.id && f.type === "receiveonly" && f.devices.includes(id),
            ),
        );
        if (receivers.length === 0)
          return bad(
            `repository ${repository} is not replicated receive-only to any other server${others.length ? ` (checked ${others.map((o) => o.stack).join(", ")})` : ""}: list a peer in backupReplicateTo and deploy it`,
          );
        const verifiers = receivers.filter((o) =>
          containers(o).some(
            (x) =>
              role(x) === "backup-replicas" &&
              scriptRepos(scriptOf(x)).some((r) => r.repository === repository),
          ),
        );
        return verifiers.length > 0
          ? []
          : bad(
              `the replica of ${repository} on ${receivers.map((o) => o.stack).join(", ")} is never checked: the receiving server's backup-replicas must list it`,
            );
      }),
    );
};

/**
 * The external endpoints (heartbeats) a server's Gatus expects, by key `<group>_<name>`, each
 * with the token Gatus accepts for it: the value of the variable its `token: ${VAR}` names in
 * the Gatus container's environment ("" when it names none or the variable is unset).
 */
export function heartbeatTokensOf(e: Evaluation): Map<string, string> {
  const gatus = containers(e).find((c) => role(c) === "gatus");
  let cfg:
    { "external-endpoints"?: { name?: string; group?: string; token?: string }[] } | undefined;
  try {
    cfg = gatus && (parseYamlOnce(upload(gatus, "/config/config.yaml") ?? "") as typeof cfg);
  } catch {
    cfg = undefined;
  }
  return new Map(
    (cfg?.["external-endpoints"] ?? []).map((x) => {
      const ref = /^\$\{([A-Z0-9_]+)\}$/.exec(String(x.token ?? ""))?.[1];
      return [`${x.group}_${x.name}`, (ref && gatus?.env[ref]) || ""];
    }),
  );
}

/** Keys of the external endpoints (heartbeats) a server's Gatus expects: `<group>_<name>`. */
export function heartbeatKeysOf(e: Evaluation): Set<string> {
  return new Set(heartbeatTokensOf(e).keys());
}

const HEARTBEAT_TOKEN_FILE = `${BACKUP_PATHS.secrets}/heartbeat-token`;

/**
 * Every job in a backup container's crontab reports to a heartbeat its server's Gatus expects,
 * with a token Gatus accepts for that heartbeat, and no two containers hold the same token (a
 * job could otherwise report success for another's).
 */
export const heartbeat: Guardrail = (e) => {
  const expected = heartbeatTokensOf(e);
  const senders = containers(e).filter(
    (c) => role(c) === "backup" || role(c) === "backup-replicas",
  );
  return senders.flatMap((c) => {
    const crontab = upload(c, BACKUP_PATHS.crontab) ?? "";
    const jobs = [
      ...new Set([
        ...[...crontab.matchAll(/homelab-backup (\w+)/g)].map((m) => m[1]!),
        // A stop capture reports the service's downtime with every backup.
        ...(shellVar(scriptOf(c), "CAPTURE") === "stop" ? ["downtime"] : []),
      ]),
    ].sort();
    const own = upload(c, HEARTBEAT_TOKEN_FILE) ?? "";
    const shared = senders.filter(
      (o) => o !== c && own !== "" && upload(o, HEARTBEAT_TOKEN_FILE) === own,
    );
    const sharing: Finding[] = shared.length
      ? [
          finding(
            "heartbeat",
            e,
            c.resource,
            `holds the same heartbeat token as ${shared.map((o) => o.name).join(", ")}: one job could report for another's; give each container its own token (Gatus heartbeatSenders)`,
          ),
        ]
      : [];
    return [
      ...sharing,
      ...scriptRepos(scriptOf(c)).flatMap(({ repository, heartbeats }) =>
        jobs.flatMap((job): Finding[] => {
          const key = heartbeats[job] ?? "";
          const bad = (msg: string) => [finding("heartbeat", e, c.resource, msg)];
          if (!key)
            return bad(
              `the ${job} job of ${repository} sends no heartbeat: give it a heartbeat key (heartbeatKeys()) and an external endpoint in Gatus`,
            );
          if (!expected.has(key))
            return bad(
              `the ${job} job of ${repository} reports to "${key}", which ${e.stack}'s Gatus does not expect: add it to the heartbeats (external-endpoints)`,
            );
          if (!own || expected.get(key) !== own)
            return bad(
              `the ${job} job of ${repository} reports to "${key}" with a token Gatus does not accept for it: the endpoint's token must be this container's ${HEARTBEAT_TOKEN_FILE}`,
            );
          return [];
        }),
      ),
    ];
  });
};
