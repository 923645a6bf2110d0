/**
 * Pulumi Deployments settings for every stack of the homelab fleet, managed from this separate
 * project: Pulumi recommends against a stack defining its own deployment settings (a change
 * would need two deployments). For each stack: previews on pull requests (with a PR comment),
 * `pulumi up` on merge to main when a path that concerns it changed, the runner's environment
 * and pre-run commands, and a daily drift check.
 */
import * as pulumi from "@pulumi/pulumi";
import * as service from "@pulumi/pulumiservice";
import {
  FleetStack,
  PROJECT,
  RUNNER_ENV,
  deployOrder,
  driftCron,
  preRunCommands,
  stackPaths,
} from "./fleet";

/** The parsed config of this project. */
export interface DeploymentsConfig {
  /** Pulumi Cloud organization of the homelab stacks. */
  organization: string;
  /** GitHub repository `owner/name` (the Pulumi GitHub App must be installed on it). */
  repository: string;
  /** Branch that deploys. */
  branch: string;
  /** Join a tailnet before Pulumi runs (hosts on a home LAN). */
  tailnet: boolean;
  /** Hour (UTC) of the first drift check. */
  driftHour: number;
  /** Run `pulumi up --refresh` after detected drift (off: a human looks first, docs/drift.md). */
  autoRemediate: boolean;
}

/** Secrets the runner gets as environment variables. */
export interface RunnerSecrets {
  sshKey: pulumi.Input<string>;
  knownHosts: pulumi.Input<string>;
  tailscaleAuthKey?: pulumi.Input<string>;
}

/** What the program knows of its stack besides config. */
export interface DeploymentsContext {
  /** Whether a key was set with `--secret` (`pulumi.runtime.isConfigSecret`). */
  isSecret: (key: string) => boolean;
  /** This stack's organization (`pulumi.getOrganization()`): the default of `organization`. */
  organization: string;
}

/** Reads and checks this project's config; one error lists every problem. */
export function parseDeploymentsConfig(
  get: (key: string) => string | undefined,
  ctx: DeploymentsContext,
): DeploymentsConfig {
  const problems: string[] = [];
  const str = (key: string, re: RegExp, what: string, fallback?: string, emptyIsUnset = false) => {
    const given = get(key);
    const v = (emptyIsUnset && given === "" ? undefined : given) ?? fallback;
    if (v === undefined) problems.push(`${key}: required; run pulumi config set ${key} <value>`);
    else if (!re.test(v)) problems.push(`${key}: expected ${what}, got ${JSON.stringify(v)}`);
    return v ?? "";
  };
  const bool = (key: string, fallback: boolean) => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (v === "true" || v === "false") return v === "true";
    problems.push(`${key}: expected true or false, got ${JSON.stringify(v)}`);
    return fallback;
  };
  // Unset keys arrive as their Pulumi.yaml default (""), filled in by the CLI.
  const organization = str(
    "organization",
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "a Pulumi Cloud organization",
    ctx.organization,
    true,
  );
  if (organization === "organization")
    problems.push(
      `organization: "organization" is the self-managed backends' placeholder; Pulumi Deployments need Pulumi Cloud and its real organization`,
    );
  const cfg: DeploymentsConfig = {
    organization,
    repository: str(
      "repository",
      /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/,
      "a GitHub repository like owner/homelab",
    ),
    branch: str("branch", /^[A-Za-z0-9._/-]+$/, "a branch name", "main"),
    tailnet: bool("tailnet", false),
    driftHour: Number(str("driftHour", /^([01]?\d|2[0-3])$/, "an integer 0-23", "5")),
    autoRemediate: bool("autoRemediate", false),
  };
  if (get("tailscaleAuthKey") && !ctx.isSecret("tailscaleAuthKey"))
    problems.push(
      "tailscaleAuthKey: must be a secret: run pulumi config set --secret tailscaleAuthKey <key>",
    );
  if (problems.length)
    throw new pulumi.RunError(
      `Invalid configuration of the homelab-deployments project, ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  ${p}`).join("\n"),
    );
  return cfg;
}

/** The deployment settings of one stack, as the Pulumi Service provider takes them. */
export function stackDeploymentSettings(
  stack: string,
  cfg: DeploymentsConfig,
  secrets: RunnerSecrets,
): service.DeploymentSettingsArgs {
  const env: Record<string, pulumi.Input<string>> = {
    [RUNNER_ENV.sshKey]: pulumi.secret(secrets.sshKey),
    [RUNNER_ENV.knownHosts]: pulumi.secret(secrets.knownHosts),
  };
  if (cfg.tailnet && secrets.tailscaleAuthKey !== undefined)
    env[RUNNER_ENV.tailscaleAuthKey] = pulumi.secret(secrets.tailscaleAuthKey);
  return {
    organization: cfg.organization,
    project: PROJECT,
    stack,
    sourceContext: { git: { branch: `refs/heads/${cfg.branch}`, repoDir: "." } },
    vcs: {
      provider: "github",
      repository: cfg.repository,
      previewPullRequests: true,
      deployCommits: true,
      pullRequestTemplate: false,
      paths: stackPaths(stack),
    },
    operationContext: {
      environmentVariables: env,
      // The last of them: the guardrails of this stack (npm run plan -- --strict).
      preRunCommands: preRunCommands({ tailnet: cfg.tailnet, stack }),
      // A burst of merges deploys the last one only.
      options: { skipIntermediateDeployments: true },
    },
  };
}

/** Settings and a drift schedule for every stack of `fleet`. */
export function createDeployments(
  fleet: FleetStack[],
  cfg: DeploymentsConfig,
  secrets: RunnerSecrets,
) {
  if (cfg.tailnet && secrets.tailscaleAuthKey === undefined)
    throw new pulumi.RunError(
      "tailscaleAuthKey: required when tailnet is true; run pulumi config set --secret tailscaleAuthKey <ephemeral, reusable auth key>",
    );
  const { first } = deployOrder(fleet);
  return first.map((stack, i) => {
    const settings = new service.DeploymentSettings(
      `${stack}-deployment`,
      stackDeploymentSettings(stack, cfg, secrets),
    );
    const drift = new service.DriftSchedule(
      `${stack}-drift`,
      {
        organization: cfg.organization,
        project: PROJECT,
        stack,
        scheduleCron: driftCron(i, cfg.driftHour),
        autoRemediate: cfg.autoRemediate,
      },
      // A drift run is a deployment: it needs the settings first.
      { dependsOn: [settings] },
    );
    return { stack, settings, drift };
  });
}
