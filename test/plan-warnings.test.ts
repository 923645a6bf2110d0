/**
 * The plan's own warnings (cli/plan-warnings.ts): a stateful volume without backup, a routed
 * service nobody monitors, a backup without heartbeat, a missing peer. The first on a real
 * evaluation of an injected declaration; the rest on plans edited to lack what they check.
 */
import { describe, expect, it } from "vitest";
import { evaluateStack } from "../cli/evaluate";
import {
  backupsWithoutHeartbeat,
  missingPeers,
  planWarnings,
  unmonitoredRoutes,
  volumesWithoutBackup,
} from "../cli/plan-warnings";
import { ServerPlan, serverPlans } from "../cli/report-model";
import { referenceConfig, referenceFleet } from "./helpers";

async function fleetPlans(): Promise<ServerPlan[]> {
  return serverPlans(await referenceFleet());
}

describe("plan warnings", () => {
  it("the reference fleet has none", async () => {
    const { evaluations } = await referenceFleet();
    const plans = await fleetPlans();
    expect(planWarnings({ evaluations, plans, missing: [] })).toEqual({
      home: [],
      cloud: [],
      offsite: [],
    });
  });

  it("a data volume of a service whose backup is off", async () => {
    const config = referenceConfig("offsite", {
      peers: [],
      ntfyServer: "",
      sso: "",
      homepageServer: "",
    });
    const e = await evaluateStack("offsite", config, {
      quiet: true,
      declare: () => ({
        role: "test",
        services: [
          {
            name: "notes",
            image: "example/notes:1.0",
            http: { port: 8080 },
            volumes: [
              { name: "data", path: "/data" },
              { name: "tmp", path: "/tmp/notes", kind: "cache" },
            ],
            backup: { enabled: false },
          },
          {
            name: "wiki",
            image: "example/wiki:2.0",
            volumes: [{ name: "pages", path: "/pages" }],
            backup: { capture: "files" },
          },
        ],
      }),
    });
    const [plan] = serverPlans({ evaluations: { offsite: e } });
    expect(plan!.backups.map((b) => b.service)).toEqual(["wiki"]);
    expect(volumesWithoutBackup(e, plan!)).toEqual([
      'volume without backup: notes-data (data, notes:/data) is in no backup; enable the service\'s backup, add a dump, or declare the volume kind: "cache".',
    ]);
  });

  it("a route no server's Gatus checks", async () => {
    const plans = await fleetPlans();
    const home = plans.find((p) => p.stack === "home")!;
    const blind = plans.map((p) => ({
      ...p,
      monitors: p.monitors.filter((m) => !m.url.startsWith("https://vault.home.example.com")),
    }));
    expect(unmonitoredRoutes(home, blind)).toEqual([
      "unmonitored route: https://vault.home.example.com (vaultwarden) is routed but no server's Gatus checks it; give the service an http health path or a Gatus endpoint.",
    ]);
    expect(unmonitoredRoutes(home, plans)).toEqual([]);
  });

  it("a backup, or a replica, without heartbeats", async () => {
    const plans = await fleetPlans();
    const strip = (p: ServerPlan, names: string[]): ServerPlan => ({
      ...p,
      monitors: p.monitors.filter((m) => !names.includes(m.name)),
    });
    const home = strip(
      plans.find((p) => p.stack === "home")!,
      ["backup-immich", "drill-immich"],
    );
    expect(backupsWithoutHeartbeat(home, [home])).toEqual([
      "backup without heartbeat: home/immich has no Gatus heartbeat for backup, drill; a job that never runs would go unnoticed.",
    ]);
    const offsite = strip(
      plans.find((p) => p.stack === "offsite")!,
      ["verify-cloud-mail"],
    );
    expect(backupsWithoutHeartbeat(offsite, [offsite])).toEqual([
      "backup without heartbeat: the replica of cloud/mail has no Gatus heartbeat for verify on offsite.",
    ]);
  });

  it("a reference to a stack without config", () => {
    expect(
      missingPeers("home", [
        { stack: "home", peer: "attic" },
        { stack: "cloud", peer: "attic" },
      ]),
    ).toEqual([
      'missing peer: home references stack "attic", which has no Pulumi.attic.yaml here; planned as on a first deployment (nothing of it is watched or replicated). Add the stack, or remove "attic" from peers.',
    ]);
  });
});
