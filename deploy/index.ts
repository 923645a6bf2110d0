/**
 * Entry of the homelab-deployments project: `cd deploy && pulumi up` writes the Pulumi
 * Deployments settings and drift schedules of every Pulumi.<stack>.yaml beside this folder.
 */
import * as pulumi from "@pulumi/pulumi";
import { readFleet } from "./fleet";
import { createDeployments, parseDeploymentsConfig } from "./program";

const config = new pulumi.Config();
// Not in the SDK's typings (runtime/config.js): whether a key was set with --secret.
const { isConfigSecret } = pulumi.runtime as unknown as { isConfigSecret: (k: string) => boolean };
const cfg = parseDeploymentsConfig((key) => config.get(key), {
  isSecret: (key) => isConfigSecret(`${pulumi.getProject()}:${key}`),
  organization: pulumi.getOrganization(),
});
const deployments = createDeployments(readFleet(), cfg, {
  sshKey: config.requireSecret("sshPrivateKey"),
  knownHosts: config.requireSecret("sshKnownHosts"),
  // Unset, it arrives as its default "" in plain text; set, it is a secret (checked above).
  tailscaleAuthKey: config.get("tailscaleAuthKey")
    ? config.requireSecret("tailscaleAuthKey")
    : undefined,
});

/** Stacks with deployment settings, in deployment order, and their drift schedules. */
export const stacks = deployments.map((d) => ({ stack: d.stack, drift: d.drift.scheduleCron }));
