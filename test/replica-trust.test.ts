/**
 * Who can read and who can write the backups (issue 11): a storage-only replica host holds no
 * peer's key anywhere in what it deploys (item 1), and every container that touches the backup
 * volume sees only its own part of it, with its own heartbeat token (item 7). On the real
 * reference fleet, evaluated under mocks with the stacks feeding each other's outputs.
 */
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { Evaluation, asPeerOutputs } from "../cli/evaluate";
import { layoutCommand } from "../components/backup-layout";
import {
  STACK_NAMES,
  T,
  container,
  envs,
  evaluateReference,
  ofType,
  referenceFleet,
  reveal,
  uploadOf,
} from "./helpers";

const passwordsOf = (e: Evaluation) =>
  Object.entries((reveal(e.outputs.backupPasswords) ?? {}) as Record<string, string>);

const mountsOf = (e: Evaluation, name: string) =>
  (reveal(container(e, name).inputs.mounts) ?? []) as {
    type: string;
    source: string;
    target: string;
    readOnly: boolean;
    volumeOptions?: { subpath?: string };
  }[];

const wholeBackupVolume = (e: Evaluation, name: string) =>
  ((reveal(container(e, name).inputs.volumes) ?? []) as { volumeName?: string }[]).filter(
    (v) => v.volumeName === "homelab-backups",
  );

describe("a storage-only replica host (offsite, trust: storage)", () => {
  it("carries no peer's restic password in any input of any resource, nor in its outputs", async () => {
    const { evaluations } = await referenceFleet();
    const offsite = evaluations.offsite!;
    const keys = ["home", "cloud"].flatMap((s) =>
      passwordsOf(evaluations[s]!).map(([service, pw]) => ({ what: `${s}/${service}`, pw })),
    );
    // home has four repositories, cloud three (mail, and Authelia's and ntfy's own state): all
    // seven are replicated to offsite.
    expect(keys).toHaveLength(7);
    for (const k of keys) expect(k.pw).toMatch(/^[A-Za-z0-9]{40}$/);
    const found = offsite.resources.flatMap((r) => {
      const text = JSON.stringify(reveal(r.inputs));
      return keys.filter((k) => text.includes(k.pw)).map((k) => `${r.type} ${r.name}: ${k.what}`);
    });
    expect(found).toEqual([]);
    const outputs = JSON.stringify(reveal(offsite.outputs));
    expect(keys.filter((k) => outputs.includes(k.pw)).map((k) => k.what)).toEqual([]);
    // It still keeps and verifies all five replicas.
    const script = uploadOf(container(offsite, "backup-replicas"), "/usr/local/bin/homelab-backup");
    expect(script.content).toContain("REPO_COUNT=7");
    expect(script.content).toContain("MODE='storage'");
  });

  it("publishes its trust level, and a wrong one is refused naming the key and the choices", async () => {
    const { evaluations } = await referenceFleet();
    const trust = (s: string) =>
      (reveal(evaluations[s]!.outputs.syncthing) as { trust: string }).trust;
    expect(STACK_NAMES.map(trust)).toEqual(["full", "full", "storage"]);
    await expect(evaluateReference("offsite", { overrides: { trust: "partial" } })).rejects.toThrow(
      'Invalid configuration for stack "offsite" (Pulumi.offsite.yaml), 1 problem:\n  trust: expected one of "full", "storage", got "partial"',
    );
  });

  it("the same fleet with offsite trusted (trust: full) hands it the keys: the level decides", async () => {
    const { evaluations } = await referenceFleet();
    const peers = Object.fromEntries(
      ["home", "cloud"].map((s) => [s, asPeerOutputs(evaluations[s]!)]),
    );
    const trusted = await evaluateReference("offsite", { overrides: { trust: "full" }, peers });
    const files = (
      reveal(container(trusted, "backup-replicas").inputs.uploads) as {
        file: string;
        content: string;
      }[]
    ).filter((u) => /repo-\d+-password$/.test(u.file));
    expect(files.map((f) => f.content).sort()).toEqual(
      ["home", "cloud"].flatMap((s) => passwordsOf(evaluations[s]!).map(([, pw]) => pw)).sort(),
    );
  });
});

describe("backup containers are isolated (item 7)", () => {
  it.each(["home", "cloud"])(
    "%s: each backup sidecar mounts its own repository's directory and nothing else of the backup volume",
    async (stack) => {
      const e = (await referenceFleet()).evaluations[stack]!;
      const sidecars = ofType(e, T.container)
        .map((c) => String(c.inputs.name))
        .filter((n) => n.endsWith("-backup"));
      expect(sidecars.length).toBeGreaterThan(0);
      for (const name of sidecars) {
        const service = name.slice(0, -"-backup".length);
        expect(wholeBackupVolume(e, name), name).toEqual([]);
        expect(mountsOf(e, name), name).toEqual([
          {
            type: "volume",
            source: "homelab-backups",
            target: `/backups/${stack}/${service}`,
            readOnly: false,
            volumeOptions: { subpath: `${stack}/${service}` },
          },
        ]);
      }
    },
  );

  it.each(STACK_NAMES)(
    "%s: Syncthing sends its own folder from a read-only mount and writes only the peers' folders; backup-replicas reads them read-only",
    async (stack) => {
      const e = (await referenceFleet()).evaluations[stack]!;
      const peers = STACK_NAMES.filter((s) => s !== stack).sort();
      expect(wholeBackupVolume(e, "syncthing")).toEqual([]);
      expect(
        mountsOf(e, "syncthing").map((m) => [m.volumeOptions?.subpath, m.target, m.readOnly]),
      ).toEqual([
        [stack, `/backups/${stack}`, true],
        ...peers.map((p) => [p, `/backups/${p}`, false]),
      ]);
      expect(wholeBackupVolume(e, "backup-replicas")).toEqual([]);
      expect(
        mountsOf(e, "backup-replicas").map((m) => [m.volumeOptions?.subpath, m.readOnly]),
      ).toEqual(peers.map((p) => [p, true]));
    },
  );

  it("only the one-shot layout job mounts the whole volume; it creates exactly the mounted directories", async () => {
    const e = (await referenceFleet()).evaluations.home!;
    const layout = container(e, "backup-layout");
    expect(wholeBackupVolume(e, "backup-layout")).toHaveLength(1);
    expect(layout.inputs).toMatchObject({ restart: "on-failure", mustRun: false, attach: true });
    const command = (reveal(layout.inputs.command) as string[])[0]!;
    expect(command).toBe(
      layoutCommand("/volume", [
        "cloud",
        "home/.stfolder",
        "home/home-assistant",
        "home/immich",
        "home/immich-db",
        "home/vaultwarden",
        "offsite",
      ]),
    );
    // Every directory some container mounts alone exists after the job: Docker refuses a
    // subpath that does not (moby daemon/volume/safepath/join_linux.go, safeOpenFd).
    const subpaths = ofType(e, T.container).flatMap((c) =>
      ((reveal(c.inputs.mounts) ?? []) as { volumeOptions?: { subpath?: string } }[]).map(
        (m) => m.volumeOptions?.subpath ?? "",
      ),
    );
    expect(subpaths).toHaveLength(4 + 3 + 2);
    for (const p of subpaths) expect(command).toMatch(new RegExp(`'/volume/${p}[/']`));
    // Syncthing's send-only folder needs its marker and cannot make it on a read-only mount.
    expect(command).toContain("'/volume/home/.stfolder'");
    // Every container that mounts a directory is created after the job ran.
    for (const name of ["syncthing", "backup-replicas", "vaultwarden-backup"])
      expect(container(e, name).options.dependsOn, name).toContain("home-backup-layout-container");
  });

  it.each(STACK_NAMES)(
    "%s: each container that pushes heartbeats has its own token, the one Gatus accepts for its jobs only",
    async (stack) => {
      const e = (await referenceFleet()).evaluations[stack]!;
      const gatus = container(e, "gatus");
      const env = envs(gatus).values;
      const cfg = parse(uploadOf(gatus, "/config/config.yaml").content) as {
        "external-endpoints": { name: string; group: string; token: string }[];
      };
      const senders = ofType(e, T.container)
        .map((c) => String(c.inputs.name))
        .filter((n) => n.endsWith("-backup") || n === "backup-replicas");
      const tokens = senders.map(
        (n) => uploadOf(container(e, n), "/run/homelab/heartbeat-token").content,
      );
      expect(new Set(tokens).size).toBe(senders.length);
      for (const [i, n] of senders.entries()) {
        const script = uploadOf(container(e, n), "/usr/local/bin/homelab-backup").content;
        const keys = [...script.matchAll(/HB_\w+='([^']+)'/g)].map((m) => m[1]!);
        expect(keys.length, n).toBeGreaterThan(0);
        for (const key of keys) {
          const ep = cfg["external-endpoints"].find((x) => `${x.group}_${x.name}` === key)!;
          // Gatus compares the bearer token with the endpoint's own token (TwiN/gatus v5.25.2
          // api/external_endpoint.go:41-44), expanded from the environment (config/config.go:281-290).
          const value = env[ep.token.replace(/^\$\{(\w+)\}$/, "$1")];
          expect(value, key).toBe(tokens[i]);
        }
      }
    },
  );
});
