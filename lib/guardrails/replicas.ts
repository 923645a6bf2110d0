/**
 * Guardrails on who can read and who can write the backups (issue 11, items 1 and 7): every
 * repository is restore-drilled with its key on a server other than its writer; a server that
 * keeps replicas as storage only holds none of its peers' keys; and each container that touches
 * the backup volume sees only its own part of it.
 */
import type { Evaluation } from "../../cli/evaluate";
import { BACKUP_PATHS } from "../../configs/backup";
import { BACKUP_MOUNT, BACKUP_VOLUME } from "../../components/defaults";
import { scriptOf } from "./backups";
import {
  ContainerView,
  Finding,
  Guardrail,
  containers,
  finding,
  reveal,
  role,
  upload,
} from "./resources";

/** Each repository of a backup script with its password file and heartbeat keys. */
function scriptJobs(script: string) {
  return [
    ...script.matchAll(
      /export RESTIC_REPOSITORY='([^']*)' RESTIC_PASSWORD_FILE='([^']*)'\n\s*HB_BACKUP='[^']*' HB_CHECK='([^']*)' HB_DRILL='([^']*)' HB_VERIFY='([^']*)'/g,
    ),
  ].map((m) => ({
    repository: m[1]!,
    passwordFile: m[2]!,
    check: m[3]!,
    drill: m[4]!,
    verify: m[5]!,
  }));
}

const cronJobs = (c: ContainerView) =>
  new Set(
    [...(upload(c, BACKUP_PATHS.crontab) ?? "").matchAll(/homelab-backup (\w+)/g)].map(
      (m) => m[1]!,
    ),
  );

/** The trust level a server publishes (`syncthing.trust`); servers from before it held keys. */
export function trustOf(e: Evaluation): "full" | "storage" {
  const st = reveal(e.outputs.syncthing) as { trust?: unknown } | undefined;
  return st?.trust === "storage" ? "storage" : "full";
}

/**
 * Every repository is restore-drilled with its own key on another server: that server's
 * backup-replicas runs `drill` on it with a password file holding the writer's password. A
 * drill only on the writer dies with the writer's disk; a replica only kept as ciphertext is
 * never proven to restore.
 */
export const drilledElsewhere: Guardrail = (e, ctx) => {
  const others = Object.values(ctx.fleet).filter((o) => o.stack !== e.stack);
  return containers(e)
    .filter((c) => role(c) === "backup")
    .flatMap((c) => {
      const password = upload(c, `${BACKUP_PATHS.secrets}/restic-password`) ?? "";
      return scriptJobs(scriptOf(c)).flatMap(({ repository }): Finding[] => {
        const drillers = others.filter((o) =>
          containers(o).some(
            (x) =>
              role(x) === "backup-replicas" &&
              cronJobs(x).has("drill") &&
              scriptJobs(scriptOf(x)).some(
                (j) =>
                  j.repository === repository &&
                  j.drill !== "" &&
                  j.passwordFile !== "" &&
                  password !== "" &&
                  upload(x, j.passwordFile) === password,
              ),
          ),
        );
        if (drillers.length > 0) return [];
        const keyless = others.filter((o) => trustOf(o) === "storage").map((o) => o.stack);
        return [
          finding(
            "drilled-elsewhere",
            e,
            c.resource,
            `${repository} is restore-drilled nowhere but on ${e.stack}${keyless.length ? ` (${keyless.join(", ")} keep${keyless.length === 1 ? "s" : ""} it without the key)` : ""}: replicate it (backupReplicateTo) to a peer with trust: full, which drills it with the key`,
          ),
        ];
      });
    });
};

/**
 * A server that keeps replicas as storage only (`trust: storage`) holds none of its peers'
 * restic passwords: not in a file, an env, a label or any other input of its resources.
 */
export const keylessStorage: Guardrail = (e, ctx) => {
  if (trustOf(e) !== "storage") return [];
  const keys = Object.values(ctx.fleet)
    .filter((o) => o.stack !== e.stack)
    .flatMap((o) =>
      Object.entries((reveal(o.outputs.backupPasswords) ?? {}) as Record<string, unknown>)
        .filter(([, v]) => typeof v === "string" && v !== "")
        .map(([service, v]) => ({ origin: o.stack, service, value: v as string })),
    );
  return e.resources.flatMap((r) => {
    const text = JSON.stringify(reveal(r.inputs) ?? {});
    return keys
      .filter((k) => text.includes(k.value))
      .map((k) =>
        finding(
          "keyless-storage",
          e,
          r,
          `holds the restic password of ${k.origin}'s ${k.service} on a server with trust: storage: a storage-only server keeps ciphertext only; verify its replicas without the key`,
        ),
      );
  });
};

/**
 * Only the one-shot layout job mounts the whole backup volume. A backup sidecar mounts its own
 * repository's directory and nothing else; backup-replicas mounts the peers' folders read-only;
 * Syncthing mounts its own server's folder read-only and the peers' folders it receives.
 */
export const backupIsolation: Guardrail = (e) =>
  containers(e).flatMap((c): Finding[] => {
    const whole = [
      ...c.mounts.filter((m) => m.volumeName === BACKUP_VOLUME).map((m) => m.containerPath),
      ...c.volumeMounts
        .filter((m) => m.volumeName === BACKUP_VOLUME && m.subpath === "")
        .map((m) => m.containerPath),
    ];
    const parts = c.volumeMounts.filter((m) => m.volumeName === BACKUP_VOLUME && m.subpath);
    if (whole.length === 0 && parts.length === 0) return [];
    const bad = (msg: string) => [finding("backup-isolation", e, c.resource, msg)];
    const r = role(c);
    if (r === "backup-layout") {
      return c.restart === "unless-stopped" || c.restart === "always"
        ? bad(
            `mounts the whole ${BACKUP_VOLUME} volume and keeps running (restart: ${c.restart}): the layout job must run once and stop (oneShot)`,
          )
        : [];
    }
    if (whole.length > 0)
      return bad(
        `mounts the whole ${BACKUP_VOLUME} volume at ${whole.join(", ")}: it would reach every repository and replica; mount only its own directory (a volume subpath)`,
      );
    const others = (ok: (p: (typeof parts)[number]) => boolean, what: string) =>
      parts
        .filter((p) => !ok(p))
        .flatMap((p) =>
          bad(
            `mounts ${p.subpath} of ${BACKUP_VOLUME}${p.readOnly ? " read-only" : " read-write"}, more than ${what}`,
          ),
        );
    if (r === "backup") {
      const own = scriptJobs(scriptOf(c)).map((j) => j.repository);
      return others(
        (p) =>
          own.includes(`${BACKUP_MOUNT}/${p.subpath}`) &&
          p.containerPath === `${BACKUP_MOUNT}/${p.subpath}`,
        `its own repository (${own.join(", ") || "none"})`,
      );
    }
    if (r === "backup-replicas")
      return others(
        (p) => p.readOnly && !p.subpath.includes("/") && p.subpath !== e.stack,
        "the peers' folders, read-only",
      );
    if (r === "syncthing")
      return others(
        (p) =>
          !p.subpath.includes("/") &&
          (p.subpath === e.stack ? p.readOnly : true) &&
          p.containerPath === `${BACKUP_MOUNT}/${p.subpath}`,
        `its own folder read-only and the peers' folders`,
      );
    return bad(
      `mounts ${parts.map((p) => p.subpath).join(", ")} of ${BACKUP_VOLUME}: only backup sidecars, backup-replicas and Syncthing may`,
    );
  });
