/**
 * What deploys the fleet, as data: the stacks (read from the Pulumi.<stack>.yaml files beside
 * the homelab project), the order they go up in, which changed paths concern a stack, the
 * commands a runner needs before Pulumi runs (SSH key, known_hosts, optionally the tailnet),
 * and the drift schedule. Pure functions, shared by the Pulumi Deployments project
 * (deploy/index.ts) and checked against the GitHub workflows by the tests.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

/** The homelab project folder (the repository root). */
export const PROJECT_DIR = join(__dirname, "..");
/** The homelab project name (its Pulumi.yaml `name`). */
export const PROJECT = "homelab";

/** One server of the fleet, as far as deploying it is concerned. */
export interface FleetStack {
  name: string;
  /** The stack that hosts ntfy for it ('' for none). */
  ntfyServer: string;
  /** The stack that runs its single sign-on ('' for none). */
  ssoServer?: string;
}

/** Every `Pulumi.<stack>.yaml` of the project folder. */
export function readFleet(dir = PROJECT_DIR): FleetStack[] {
  return readdirSync(dir)
    .flatMap((f) => {
      const m = /^Pulumi\.([a-z0-9-]+)\.yaml$/.exec(f);
      return m ? [m[1]!] : [];
    })
    .sort()
    .map((name) => {
      const doc = parse(readFileSync(join(dir, `Pulumi.${name}.yaml`), "utf8")) as {
        config?: Record<string, unknown>;
      };
      const ntfy = doc?.config?.[`${PROJECT}:ntfyServer`];
      const sso = doc?.config?.[`${PROJECT}:sso`];
      return {
        name,
        ntfyServer: typeof ntfy === "string" ? ntfy : "",
        ssoServer: typeof sso === "string" ? sso : "",
      };
    });
}

/**
 * The order of a full deployment: the ntfy and SSO hosts first (one hands out publish tokens,
 * the other the forward-auth address every admin route needs, which the guardrails require),
 * then the others by name; then a second pass over all but the last, so that everyone sees
 * the outputs of stacks that went up after it (README, "Bring up a new fleet").
 */
export function deployOrder(fleet: FleetStack[]): { first: string[]; second: string[] } {
  const hosts = new Set(
    fleet.flatMap((s) => [s.ntfyServer, s.ssoServer ?? ""]).filter((n) => n !== ""),
  );
  const names = fleet.map((s) => s.name);
  const first = [
    ...names.filter((n) => hosts.has(n)).sort(),
    ...names.filter((n) => !hosts.has(n)).sort(),
  ];
  return { first, second: first.slice(0, -1) };
}

/**
 * Changed paths (repository-relative) that deploy `stack`; a leading `!` excludes, and an
 * exclusion always wins (Pulumi Deployments path filters; GitHub `paths`).
 */
export function stackPaths(stack: string): string[] {
  return [
    "index.ts",
    "package.json",
    "package-lock.json",
    "Pulumi.yaml",
    `Pulumi.${stack}.yaml`,
    "components/**",
    "configs/**",
    "lib/**",
    `stacks/${stack}.ts`,
    "stacks/index.ts",
    "stacks/types.ts",
    "!**/*.md",
  ];
}

/** Paths of any stack: what a merge must touch to deploy anything. */
export function fleetPaths(fleet: FleetStack[]): string[] {
  const all = new Set(fleet.flatMap((s) => stackPaths(s.name)));
  return [...all].filter((p) => !p.startsWith("!")).sort();
}

/** Environment variables the runner gets (values from secrets). */
export const RUNNER_ENV = {
  sshKey: "HOMELAB_SSH_KEY",
  knownHosts: "HOMELAB_KNOWN_HOSTS",
  tailscaleAuthKey: "TS_AUTHKEY",
} as const;

/**
 * Shell commands a runner needs before `pulumi`: the Docker provider runs the system `ssh`
 * (`docker system dial-stdio`), so it needs a client, the key and known_hosts. With a tailnet,
 * the runner joins it as an ephemeral node; without TUN (hosted runners) tailscaled runs in
 * userspace and ssh reaches `*.ts.net` through `tailscale nc`.
 */
export function preRunCommands(opts: { tailnet: boolean; stack?: string }): string[] {
  const { sshKey, knownHosts, tailscaleAuthKey } = RUNNER_ENV;
  const cmds = [
    "command -v ssh >/dev/null || { apt-get update -qq && apt-get install -y -qq openssh-client; }",
    `install -d -m 700 ~/.ssh && printf '%s\\n' "$${sshKey}" > ~/.ssh/homelab && chmod 600 ~/.ssh/homelab`,
    `printf '%s\\n' "$${knownHosts}" > ~/.ssh/known_hosts && chmod 644 ~/.ssh/known_hosts`,
  ];
  if (opts.tailnet) {
    cmds.push(
      "command -v tailscale >/dev/null || curl -fsSL https://tailscale.com/install.sh | sh",
      "nohup tailscaled --tun=userspace-networking --state=mem: >/tmp/tailscaled.log 2>&1 &",
      "timeout 30 sh -c 'until [ -S /var/run/tailscale/tailscaled.sock ]; do sleep 0.2; done'",
      `tailscale up --authkey="$${tailscaleAuthKey}" --hostname="pulumi-deploy-$(hostname)" --accept-routes`,
      "printf 'Host *.ts.net\\n  ProxyCommand tailscale nc %%h %%p\\n' >> ~/.ssh/config",
    );
  }
  cmds.push(
    "printf 'Host *\\n  IdentityFile ~/.ssh/homelab\\n  IdentitiesOnly yes\\n  StrictHostKeyChecking yes\\n  BatchMode yes\\n' >> ~/.ssh/config",
  );
  if (opts.stack !== undefined) cmds.push(...guardrailCommands(opts.stack));
  return cmds;
}

/**
 * The guardrails before a deployment's Pulumi operation: `npm run plan -- --strict` of the
 * stack (docs/guardrails.md), the same gate the GitHub workflow runs. Deployment settings have
 * no field for `--policy-pack` (`DeploymentSettingsOperationContextArgs` of
 * @pulumi/pulumiservice: environment variables, OIDC, options, pre-run commands), so the pack
 * itself runs there only through a Pulumi Cloud policy group (docs/guardrails.md).
 */
export function guardrailCommands(stack: string): string[] {
  if (!/^[A-Za-z0-9_.-]+$/.test(stack))
    throw new Error(`stack: expected a stack name, got ${JSON.stringify(stack)}`);
  return [
    "npm ci --no-audit --no-fund",
    `npm run plan -- --strict --assume-secrets ${stack} > /dev/null`,
  ];
}

/** Drift check of the `i`-th stack: daily, ten minutes apart so runs do not overlap. */
export function driftCron(i: number, hour = 5): string {
  if (!Number.isInteger(hour) || hour < 0 || hour > 23)
    throw new Error(`driftHour: expected an integer 0-23, got ${JSON.stringify(hour)}`);
  const minutes = i * 10;
  return `${minutes % 60} ${(hour + Math.floor(minutes / 60)) % 24} * * *`;
}
