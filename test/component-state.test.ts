/**
 * The standard components' own state (components/component-state.ts): the databases Authelia
 * and ntfy are configured to write are the ones their backup sidecars copy. Each path is read
 * from what the program generates (the component's config file and its volume mount), not
 * from the constants the sidecar was built from, so a moved database fails here.
 */
import { posix } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { BACKUP_PATHS } from "../configs/backup";
import { shellVar } from "../lib/guardrails/backups";
import { T, container, ofType, referenceFleet, reveal, uploadOf } from "./helpers";

type Mount = { volumeName?: string; containerPath: string; readOnly?: boolean };
const mounts = (c: ReturnType<typeof container>) => (reveal(c.inputs.volumes) ?? []) as Mount[];

/**
 * Where the sidecar sees `file`, a path inside the component's container: the volume mounted
 * around it in the component is mounted read-only at /data/<short name> in the sidecar.
 */
function inSidecar(component: Mount[], sidecar: Mount[], file: string): string {
  const m = component.find((v) => file.startsWith(`${v.containerPath}/`));
  expect(m, `no volume holds ${file}`).toBeDefined();
  const there = sidecar.find((v) => v.volumeName === m!.volumeName);
  expect(there, `the sidecar does not mount ${m!.volumeName}`).toMatchObject({ readOnly: true });
  return posix.relative(
    BACKUP_PATHS.data,
    `${there!.containerPath}/${posix.relative(m!.containerPath, file)}`,
  );
}

describe("the standard components' state is backed up where it is written", () => {
  it("Authelia: the sidecar copies the SQLite file its configuration.yml names (storage.local.path)", async () => {
    const cloud = (await referenceFleet()).evaluations.cloud!;
    const authelia = container(cloud, "authelia");
    const sidecar = container(cloud, "authelia-backup");
    const config = parse(uploadOf(authelia, "/config/configuration.yml").content) as {
      storage: { local: { path: string } };
    };
    const script = uploadOf(sidecar, BACKUP_PATHS.script).content;
    expect(shellVar(script, "CAPTURE")).toBe("sqlite");
    expect(shellVar(script, "DATABASES")).toBe(
      inSidecar(mounts(authelia), mounts(sidecar), config.storage.local.path),
    );
    expect(shellVar(script, "DATABASES")).toBe("data/db.sqlite3");
  });

  it("ntfy: the sidecar copies both SQLite files its server.yml names (auth-file, cache-file)", async () => {
    const cloud = (await referenceFleet()).evaluations.cloud!;
    const ntfy = container(cloud, "ntfy");
    const sidecar = container(cloud, "ntfy-backup");
    const config = parse(uploadOf(ntfy, "/etc/ntfy/server.yml").content) as Record<string, string>;
    const script = uploadOf(sidecar, BACKUP_PATHS.script).content;
    expect(shellVar(script, "CAPTURE")).toBe("sqlite");
    expect(shellVar(script, "DATABASES").split(" ")).toEqual(
      [config["auth-file"]!, config["cache-file"]!]
        .map((f) => inSidecar(mounts(ntfy), mounts(sidecar), f))
        .sort(),
    );
  });

  it("only where the component runs: home and offsite have no Authelia or ntfy, nor their backups", async () => {
    const { evaluations } = await referenceFleet();
    for (const stack of ["home", "offsite"]) {
      const names = ofType(evaluations[stack]!, T.container).map((c) => String(c.inputs.name));
      expect(
        names.filter((n) => /^(authelia|ntfy)/.test(n)),
        stack,
      ).toEqual([]);
    }
  });
});
