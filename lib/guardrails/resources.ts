/**
 * What the guardrails read from an evaluation: containers with their labels, mounts, ports and
 * uploads, volumes with their kind, and which values reached Pulumi as secrets. Pure functions
 * over `Evaluation` (cli/evaluate.ts), no Pulumi runtime.
 */
import { Secret, reveal } from "../../cli/evaluate";

export { reveal };
import type { Evaluation, RegisteredResource } from "../../cli/evaluate";

export const TYPES = {
  container: "docker:index/container:Container",
  volume: "docker:index/volume:Volume",
  image: "docker:index/remoteImage:RemoteImage",
  password: "random:index/randomPassword:RandomPassword",
} as const;

/**
 * The image a container runs, as a reference (`repo:tag`, or `repo@sha256:…` for `auto`).
 * Containers run the image ID of their RemoteImage (`<container>-image`, components/docker.ts),
 * whose name is the reference.
 */
export function imageReference(e: Evaluation, container: RegisteredResource): string {
  const image = String(reveal(container.inputs.image) ?? "");
  if (!image.startsWith("sha256:")) return image;
  const img = imageResourceOf(e, container);
  return img ? String(reveal(img.inputs.name)) : image;
}

/** The RemoteImage of a container (`<container>-image`, components/docker.ts), if it has one. */
export function imageResourceOf(
  e: Evaluation,
  container: RegisteredResource,
): RegisteredResource | undefined {
  return e.resources.find((r) => r.type === TYPES.image && r.name === `${container.name}-image`);
}

/** Names every guardrail; a finding carries the id of the check that raised it. */
export type GuardrailId =
  | "data-volume-retained"
  | "delete-before-replace"
  | "docker-socket"
  | "routed-tls-headers"
  | "admin-auth"
  | "backed-up"
  | "consistent-capture"
  | "replicated"
  | "monitored"
  | "heartbeat"
  | "drilled-elsewhere"
  | "keyless-storage"
  | "backup-isolation"
  | "no-latest"
  | "restart-and-logs"
  | "unique-host-ports"
  | "unique-hosts"
  | "no-plaintext-secret";

/** One violated property: where, what, and the fix. */
export interface Finding {
  check: GuardrailId;
  stack: string;
  /** The resource at fault: `<Type> <logical name>`, plus the Docker name of a container. */
  resource: string;
  /** What is wrong, then `: ` and how to fix it. */
  message: string;
}

/** What the declaration says and the resources cannot: from `intentOf` (lib/guardrails/intent.ts). */
export interface StackIntent {
  /** `gatusPublic: true`: the status page is served without a login on purpose. */
  gatusPublic: boolean;
  /** Services declared with `http.admin: true` (their routes need `admin-auth@file`). */
  adminServices: string[];
  /** Single sign-on configured (`sso`): admin-auth must be its forward auth, not basic auth. */
  sso?: boolean;
}

/** Everything a check may look at besides the stack itself. */
export interface GuardrailContext {
  /** Every stack of the fleet by name (the checked one included); cross-server checks need it. */
  fleet: Record<string, Evaluation>;
  /** Declared intent by stack; absent: Gatus is taken as private, admin services unknown. */
  intent?: Record<string, StackIntent>;
}

/** A guardrail: a pure function from one stack (and its fleet) to findings. */
export type Guardrail = (e: Evaluation, ctx: GuardrailContext) => Finding[];

/** `Container home-vaultwarden-container ("vaultwarden")`, `Volume home-backups`. */
export function describeResource(r: RegisteredResource): string {
  const kind = r.type.split(":").pop()!;
  const docker = r.type === TYPES.container ? ` ("${String(reveal(r.inputs.name))}")` : "";
  return `${kind} ${r.name}${docker}`;
}

export function finding(
  check: GuardrailId,
  e: Evaluation,
  r: RegisteredResource | string,
  message: string,
): Finding {
  return {
    check,
    stack: e.stack,
    resource: typeof r === "string" ? r : describeResource(r),
    message,
  };
}

export function ofType(e: Evaluation, type: string): RegisteredResource[] {
  return e.resources.filter((r) => r.type === type);
}

/** Names of the stack's internal Docker networks (no route out). */
export function internalNetworks(e: Evaluation): Set<string> {
  return new Set(
    ofType(e, "docker:index/network:Network").flatMap((n) => {
      const i = reveal(n.inputs) as { name?: string; internal?: boolean };
      return i.internal === true && i.name ? [i.name] : [];
    }),
  );
}

/** A container as the checks see it. */
export interface ContainerView {
  resource: RegisteredResource;
  /** Docker name. */
  name: string;
  image: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  mounts: { volumeName?: string; hostPath?: string; containerPath: string; readOnly: boolean }[];
  /** `mounts` of type volume: a volume, or one directory of it (`subpath`, "" for all). */
  volumeMounts: { volumeName: string; subpath: string; containerPath: string; readOnly: boolean }[];
  /** Docker restart policy. */
  restart: string;
  /** Published ports; `ip` is the host address bound, absent for every interface. */
  ports: { internal: number; external: number; protocol: string; ip?: string }[];
  uploads: { file: string; content: string; secret: boolean }[];
}

export function containers(e: Evaluation): ContainerView[] {
  return ofType(e, TYPES.container).map((r) => {
    const i = reveal(r.inputs) as Record<string, unknown>;
    const labelList = (i.labels ?? []) as { label: string; value: string }[];
    const env: Record<string, string> = {};
    for (const text of (i.envs ?? []) as string[]) {
      const at = text.indexOf("=");
      env[text.slice(0, at)] = text.slice(at + 1);
    }
    return {
      resource: r,
      name: String(i.name ?? ""),
      image: imageReference(e, r),
      labels: Object.fromEntries(labelList.map((l) => [l.label, l.value])),
      env,
      mounts: ((i.volumes ?? []) as ContainerView["mounts"]).map((m) => ({
        ...m,
        readOnly: m.readOnly === true,
      })),
      volumeMounts: (
        (i.mounts ?? []) as {
          type?: string;
          source?: string;
          target?: string;
          readOnly?: boolean;
          volumeOptions?: { subpath?: string };
        }[]
      )
        .filter((m) => m.type === "volume")
        .map((m) => ({
          volumeName: String(m.source ?? ""),
          subpath: String(m.volumeOptions?.subpath ?? ""),
          containerPath: String(m.target ?? ""),
          readOnly: m.readOnly === true,
        })),
      restart: String(i.restart ?? ""),
      ports: ((i.ports ?? []) as ContainerView["ports"]).map((p) => ({
        ...p,
        protocol: p.protocol ?? "tcp",
      })),
      uploads: uploadsOf(r),
    };
  });
}

function uploadsOf(r: RegisteredResource): ContainerView["uploads"] {
  const raw = r.inputs.uploads;
  const whole = raw instanceof Secret;
  const list = ((whole ? raw.value : raw) ?? []) as unknown[];
  return list.map((item) => {
    const itemSecret = item instanceof Secret;
    const u = (itemSecret ? item.value : item) as Record<string, unknown>;
    return {
      file: String(reveal(u.file)),
      content: String(reveal(u.content) ?? ""),
      secret: whole || itemSecret || u.content instanceof Secret,
    };
  });
}

export function upload(c: ContainerView, file: string): string | undefined {
  return c.uploads.find((u) => u.file === file)?.content;
}

/** A volume and its `homelab.kind` label (`data`, `cache`, or undefined when unlabelled). */
export function volumes(e: Evaluation) {
  return ofType(e, TYPES.volume).map((r) => {
    const i = reveal(r.inputs) as { name?: string; labels?: { label: string; value: string }[] };
    return {
      resource: r,
      name: String(i.name ?? ""),
      kind: i.labels?.find((l) => l.label === "homelab.kind")?.value,
    };
  });
}

/** Host names of a router rule: Host(`a`) || Host(`b`). */
export function ruleHosts(rule: string): string[] {
  return [...rule.matchAll(/Host\(`([^`]+)`\)/g)].map((m) => m[1]!);
}

/** Routers declared by a container's Traefik labels, by router name. */
export function labelRouters(c: ContainerView): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [k, v] of Object.entries(c.labels)) {
    const m = /^traefik\.http\.routers\.([^.]+)\.(.+)$/.exec(k);
    if (m) (out[m[1]!] ??= {})[m[2]!] = v;
  }
  return out;
}

/** Whether a routed container: `traefik.enable=true`. */
export function isRouted(c: ContainerView): boolean {
  return c.labels["traefik.enable"] === "true";
}

export const role = (c: ContainerView) => c.labels["homelab.role"] ?? "";

/** The networks a container joins, by name. */
export function networksOf(c: ContainerView): string[] {
  return ((reveal(c.resource.inputs.networksAdvanced) ?? []) as { name: string }[]).map(
    (n) => n.name,
  );
}
