/**
 * Entry of the homelab-deployments project: `cd deploy && pulumi up` writes the Pulumi
 * Deployments settings and drift schedules of every Pulumi.<stack>.yaml beside this folder.
 */
import * as pulumi from "@pulumi/pulumi";
import { readFleet } from "./fleet";
import { createDeployments, parseDeploymentsConfig } from "./program";

const config = new pulumi.Config();
const cfg = parseDeploymentsConfig((key) => config.get(key));
const deployments = createDeployments(readFleet(), cfg, {
  sshKey: config.requireSecret("sshPrivateKey"),
  knownHosts: config.requireSecret("sshKnownHosts"),
  // Only whether it is set (it defaults to ""); the value stays a secret Output.
  tailscaleAuthKey: config.get("tailscaleAuthKey")
    ? config.requireSecret("tailscaleAuthKey")
    : undefined,
});

/** Stacks with deployment settings, in deployment order, and their drift schedules. */
export const stacks = deployments.map((d) => ({ stack: d.stack, drift: d.drift.scheduleCron }));
