/**
 * Guardrails on single resources: data volumes survive, named containers are replaced safely,
 * stateful images are pinned, every container restarts and rotates its logs, and no host port
 * is published twice.
 */
import {
  Finding,
  Guardrail,
  TYPES,
  containers,
  finding,
  ofType,
  reveal,
  role,
  volumes,
} from "./resources";

/** Every volume that holds data survives a rename or destroy. */
export const dataVolumesRetained: Guardrail = (e) =>
  volumes(e).flatMap((v): Finding[] => {
    if (v.kind === "cache") return [];
    if (v.kind !== "data") {
      const label =
        v.kind === undefined ? "no homelab.kind label" : `homelab.kind ${JSON.stringify(v.kind)}`;
      return [
        finding(
          "data-volume-retained",
          e,
          v.resource,
          `volume "${v.name}" has ${label}, neither data nor cache: make it with homelabVolume() in components/docker.ts`,
        ),
      ];
    }
    const o = v.resource.options;
    if (o.retainOnDelete === true || o.protect === true) return [];
    return [
      finding(
        "data-volume-retained",
        e,
        v.resource,
        `data volume "${v.name}" would be deleted by a rename or destroy: set retainOnDelete: true (or protect: true)`,
      ),
    ];
  });

/** Every named container is deleted before its replacement is created (names are unique). */
export const deleteBeforeReplace: Guardrail = (e) =>
  ofType(e, TYPES.container).flatMap((r) =>
    reveal(r.inputs.name) !== undefined && r.options.deleteBeforeReplace !== true
      ? [
          finding(
            "delete-before-replace",
            e,
            r,
            `a replacement would fail on the taken container name: set deleteBeforeReplace: true`,
          ),
        ]
      : [],
  );

/** The tag of an image reference, "" when it has none, or "@digest" when pinned by digest. */
export function imageTag(image: string): string {
  if (image.includes("@sha256:")) return "@digest";
  const last = image.split("/").pop()!;
  const at = last.indexOf(":");
  return at < 0 ? "" : last.slice(at + 1);
}

/** No container holding data runs a moving `latest` tag (or no tag at all). */
export const noLatest: Guardrail = (e) => {
  const data = new Set(volumes(e).flatMap((v) => (v.kind === "data" ? [v.name] : [])));
  const all = containers(e);
  const dumped = new Set(
    all.flatMap((c) =>
      role(c) === "backup" && c.uploads.some((u) => /^DUMP_COMMAND='.+'$/m.test(u.content))
        ? [c.name.replace(/-backup$/, "")]
        : [],
    ),
  );
  return all.flatMap((c) => {
    if (role(c) === "backup") return [];
    const stateful =
      dumped.has(c.name) || c.mounts.some((m) => m.volumeName && data.has(m.volumeName));
    const tag = imageTag(c.image);
    if (!stateful || (tag !== "" && tag !== "latest")) return [];
    return [
      finding(
        "no-latest",
        e,
        c.resource,
        `holds data but runs ${JSON.stringify(c.image)}, a moving tag: pin a version tag (e.g. ${c.image.replace(/:latest$/, "")}:<version>)`,
      ),
    ];
  });
};

const RESTARTS = ["always", "unless-stopped", "on-failure"];

/** Every container restarts after a crash or reboot and rotates its logs. */
export const restartAndLogs: Guardrail = (e) =>
  ofType(e, TYPES.container).flatMap((r) => {
    const i = reveal(r.inputs) as {
      restart?: string;
      logDriver?: string;
      logOpts?: Record<string, string>;
    };
    const out: Finding[] = [];
    if (!RESTARTS.includes(i.restart ?? "")) {
      out.push(
        finding(
          "restart-and-logs",
          e,
          r,
          `restart policy is ${JSON.stringify(i.restart ?? "no")}: set restart: "unless-stopped"`,
        ),
      );
    }
    const rotated =
      i.logDriver === "local" || (i.logDriver === "json-file" && !!i.logOpts?.["max-size"]);
    if (!rotated) {
      out.push(
        finding(
          "restart-and-logs",
          e,
          r,
          `logs are not rotated (logDriver ${JSON.stringify(i.logDriver ?? "default")}, max-size ${JSON.stringify(i.logOpts?.["max-size"] ?? "unset")}): set logDriver: "json-file" with logOpts max-size and max-file`,
        ),
      );
    }
    return out;
  });

/** A host port (and protocol) is published by one container of a server only. */
export const uniqueHostPorts: Guardrail = (e) => {
  // Per port and protocol, who binds which address; a wildcard address overlaps every other.
  const owners = new Map<string, { ip: string; name: string }[]>();
  const wildcard = (ip: string) => ip === "0.0.0.0" || ip === "::";
  return containers(e).flatMap((c) =>
    c.ports.flatMap((p): Finding[] => {
      const key = `${p.external}/${p.protocol}`;
      const ip = p.ip ?? "0.0.0.0";
      const taken = owners.get(key) ?? [];
      const owner = taken.find((o) => o.ip === ip || wildcard(o.ip) || wildcard(ip))?.name;
      if (owner === undefined) {
        owners.set(key, [...taken, { ip, name: c.name }]);
        return [];
      }
      return [
        finding(
          "unique-host-ports",
          e,
          c.resource,
          `host port ${key} is already published by "${owner}" on ${e.stack}: choose another hostPort`,
        ),
      ];
    }),
  );
};
