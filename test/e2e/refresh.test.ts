/**
 * Issue 10: the promise of the nightly drift check (`pulumi refresh --preview-only
 * --expect-no-changes`) on real engines. The harness applies home's and offsite's containers
 * the way the provider creates them, then every container, volume, network and image is read
 * back the way the provider's read functions map it (test/e2e/refresh.ts) and compared with the
 * inputs the program registered: the diff must be empty, and a second apply must change nothing.
 * Runs on clean engines and leaves them clean, so it does not depend on the order of the files.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Evaluation } from "../../cli/evaluate";
import { reveal } from "../../cli/evaluate";
import { container } from "../helpers";
import { applyServer, engine, ensureImage, imageResource, planContainer } from "./harness";
import { ServerName, SERVERS, labFleet, timed } from "./lab";
import { Drift, goDuration, refreshContainer, refreshServer, secondApplyChanges } from "./refresh";

const CONTAINERS: Record<ServerName, string[]> = {
  home: ["backup-layout", "syncthing", "vaultwarden-backup", "immich-db-backup", "backup-replicas"],
  offsite: ["backup-layout", "syncthing", "backup-replicas"],
};

/**
 * Perpetual diffs that are real program bugs in files this suite may not change: each entry
 * names the bug and the file to fix. Empty: the refresh found none.
 */
const EXPECTED_DRIFT: { resource: string; field: string; bug: string }[] = [];

let fleet: Record<ServerName, Evaluation>;

/** Removes every container, user network and volume of a server's engine (a clean lab). */
async function clean(server: ServerName): Promise<void> {
  const d = engine(server);
  for (const c of await d.listContainers({ all: true }))
    await d.getContainer(c.Id).remove({ force: true, v: true });
  for (const n of await d.listNetworks())
    if (!["bridge", "host", "none"].includes(n.Name)) await d.getNetwork(n.Id).remove();
  for (const v of (await d.listVolumes()).Volumes ?? []) await d.getVolume(v.Name).remove();
}

beforeAll(async () => {
  fleet = await timed("refresh: evaluate the lab fleet", () => labFleet());
  await timed("refresh: clean engines and apply", async () => {
    for (const s of SERVERS) {
      await clean(s);
      await applyServer(fleet[s], s, CONTAINERS[s]);
    }
  });
}, 300_000);

afterAll(async () => {
  for (const s of SERVERS) await clean(s);
}, 120_000);

describe("the harness models the provider", () => {
  it("refuses an upload without content at create, as the provider does", () => {
    const base = container(fleet.home, "vaultwarden-backup");
    const uploads = (reveal(base.inputs.uploads) as Record<string, unknown>[]).map((u, n) =>
      n === 0 ? { ...u, content: "" } : u,
    );
    expect(() => planContainer({ ...base, inputs: { ...base.inputs, uploads } })).toThrow(
      /error with upload content: one of 'content', 'content_base64', or 'source' must be set/,
    );
    const both = [{ file: "/x", content: "a", contentBase64: "YQ==" }];
    expect(() => planContainer({ ...base, inputs: { ...base.inputs, uploads: both } })).toThrow(
      /only one of 'content', 'content_base64', or 'source' can be set/,
    );
  });

  it("durations read back in Go's form", () => {
    expect([0, 30e9, 60e9, 90e9, 3600e9, 5e8, 1.5e9].map(goDuration)).toEqual([
      "0s",
      "30s",
      "1m0s",
      "1m30s",
      "1h0m0s",
      "500ms",
      "1.5s",
    ]);
  });

  it("pulls an image only when it is absent (a present tag is used as it is)", async () => {
    const d = engine("home");
    // applied above: every image of the program is present now, so nothing is pulled again.
    const r = imageResource(fleet.home, String(container(fleet.home, "syncthing").inputs.image));
    expect(await ensureImage(d, String(reveal(r.inputs.name)))).toBe(false);
  });
});

describe("refresh: the engines read back as the program registered them", () => {
  it("every container, volume, network and image: no drift", async () => {
    const drift: Drift[] = [];
    for (const s of SERVERS) drift.push(...(await refreshServer(fleet[s], s, CONTAINERS[s])));
    for (const d of drift) console.log(`[e2e] drift: ${JSON.stringify(d)}`);
    const expected = (d: Drift) =>
      EXPECTED_DRIFT.some((x) => d.resource.endsWith(x.resource) && d.field === x.field);
    expect(drift.filter((d) => !expected(d))).toEqual([]);
    // An expected drift that is gone must be taken off the list.
    for (const x of EXPECTED_DRIFT)
      expect(
        drift.some((d) => d.resource.endsWith(x.resource) && d.field === x.field),
        x.bug,
      ).toBe(true);
  });

  it("the read-back is not vacuous: an input the engine does not have is a drift", async () => {
    const base = container(fleet.offsite, "backup-replicas");
    const changed = {
      ...base,
      inputs: { ...base.inputs, restart: "always", logOpts: { "max-size": "1m" } },
    };
    const drift = await refreshContainer(engine("offsite"), changed);
    expect(drift.map((d) => d.field)).toEqual(["restart", "log_opts"]);
  });

  it("a second apply changes nothing", async () => {
    const again = await timed("refresh: evaluate the lab fleet again", () => labFleet());
    for (const s of SERVERS)
      expect(secondApplyChanges(fleet[s], again[s], CONTAINERS[s]), s).toEqual([]);
  });
});
