/**
 * The program behind index.ts: read and check this stack's config, merge the layers, read the
 * peers, build the server, and return the stack outputs. The only place besides index.ts
 * that reads `pulumi.Config`.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { Bootstrap } from "../components/bootstrap";
import { Server } from "../components/server";
import { stackFile } from "../stacks";
import type { ServerDeclaration, StackFile } from "../stacks/types";
import {
  CONFIG_KEYS,
  ConfigError,
  ConfigKey,
  KeySpec,
  RawConfig,
  SECRET_KEYS,
  StackConfig,
  parseStackConfig,
} from "./config";
import { connectPeers } from "./peers";
import { scheduleDstWarnings } from "./dst";
import { resolveServices } from "./resolve";
import { warn } from "./warnings";

/** Raw values of this project's config namespace as the program receives them. */
export function readRawConfig(project: string): RawConfig {
  // Not in the SDK's typings (runtime/config.js); an SDK without it cannot tell, and then every
  // secret key counts as set with --secret, and no other.
  const isSecret =
    (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret ??
    ((k: string) => (SECRET_KEYS as string[]).includes(k.slice(project.length + 1)));
  return rawConfigOf(project, pulumi.runtime.allConfig(), isSecret);
}

/**
 * The raw values of `project`'s keys in `config` (`ns:key` → text, as Pulumi hands it over),
 * secrets left out (only their presence).
 */
export function rawConfigOf(
  project: string,
  config: Record<string, string>,
  isSecret: (fullKey: string) => boolean,
): RawConfig {
  const prefix = `${project}:`;
  const values: Record<string, unknown> = {};
  const secretsPresent: string[] = [];
  const secretsElsewhere: string[] = [];
  for (const [full, value] of Object.entries(config)) {
    if (!full.startsWith(prefix)) continue;
    const key = full.slice(prefix.length);
    if (!(SECRET_KEYS as string[]).includes(key)) {
      values[key] = value;
      // The parser reads it as plain text: a secret there would leave the secret behind.
      if (isSecret(full)) secretsElsewhere.push(key);
    } else if (isSecret(full)) secretsPresent.push(key);
    // A secret key the stack leaves unset arrives as its declared default, in plain text: the
    // CLI fills in defaults before the program starts (github:pulumi/pulumi
    // pkg/workspace/config.go, mergeConfig). That is "not set", not a leak.
    else if (value === String((CONFIG_KEYS[key as ConfigKey] as KeySpec).default)) continue;
    // Set in plain text: the parser reports it; the value itself never leaves this function.
    else values[key] = "<plaintext>";
  }
  return { values, secretsPresent, ...(secretsElsewhere.length ? { secretsElsewhere } : {}) };
}

/**
 * The parsed config of `stack`, or a ConfigError listing every problem. The server is
 * `stacks/<stack>.ts` if there is one, else its stack file alone: the standard components, its
 * peers' replicas, and what `Pulumi.<stack>.yaml` declares. `declare` replaces
 * `stacks/<stack>.ts` (the benchmark's synthetic servers).
 */
export function loadStackConfig(stack: string, raw: RawConfig, declare?: StackFile) {
  const file = declare ?? stackFile(stack);
  const rawDomain = typeof raw.values.domain === "string" ? raw.values.domain : "";
  const names = file ? file({ domain: rawDomain }).services.map((s) => s.name) : [];
  const config = parseStackConfig(raw, { stack, serviceNames: names });
  const code: ServerDeclaration = file
    ? file({ domain: config.domain })
    : { role: "", services: [], secrets: [] };
  const declaration: ServerDeclaration = {
    role: config.role || code.role || defaultRole(config, config.declared),
    // The stack file's services join the code's (the highest layer declares too).
    services: [...code.services, ...config.declared],
    // A name in both layers is one secret.
    secrets: [...new Set([...(code.secrets ?? []), ...config.secrets])],
  };
  const services = resolveServices(declaration, config);
  return { config, declaration, services };
}

/** The role of a server that names none: what it runs. */
function defaultRole(config: StackConfig, services: readonly { name: string }[]): string {
  const own = services.length ? services.map((s) => s.name).join(", ") : "standard components";
  return config.peers.length > 0 ? `${own} and replicas of ${config.peers.join(", ")}` : own;
}

/**
 * The Docker engine of the server, over SSH. The only Docker provider of the stack; with a
 * bootstrap it depends on it, and so does every Docker resource through it.
 */
export function dockerProvider(cfg: StackConfig, bootstrap?: Bootstrap): docker.Provider {
  return new docker.Provider(
    `${cfg.stack}-docker`,
    {
      host: `ssh://${cfg.ssh.user}@${cfg.host}:${cfg.ssh.port}`,
      sshOpts: cfg.ssh.opts,
      // The provider pings the engine when configured, in preview too: on a bare host there is
      // none until the bootstrap ran (kreuzwerker/terraform-provider-docker#703).
      ...(bootstrap ? { disableDockerDaemonCheck: true } : {}),
    },
    bootstrap ? { dependsOn: [bootstrap] } : {},
  );
}

/** The host's bootstrap (configs/bootstrap.sh over SSH), unless `bootstrap: false`. */
export function serverBootstrap(
  cfg: StackConfig,
  privateKey: pulumi.Output<string> | undefined,
): Bootstrap | undefined {
  if (!cfg.bootstrap.enabled) return undefined;
  if (!cfg.bootstrap.hostKey) {
    warn(
      `the bootstrap of ${cfg.stack} does not check the SSH host key of ${cfg.host}: set homelab:hostKey ` +
        `to the key \`ssh-keyscan -t ed25519 ${cfg.host}\` prints after the host name.`,
    );
  }
  return new Bootstrap(`${cfg.stack}-bootstrap`, {
    host: cfg.host,
    port: cfg.ssh.port,
    user: cfg.bootstrap.user,
    privateKey,
    ...(cfg.bootstrap.hostKey ? { hostKey: cfg.bootstrap.hostKey } : {}),
    params: { deployUser: cfg.ssh.user },
  });
}

/** Builds the whole server of this stack and returns its outputs. */
export function createServerStack(stack: string, project: string, declare?: StackFile) {
  const raw = readRawConfig(project);
  const { config, declaration, services } = loadStackConfig(stack, raw, declare);
  // busybox crond runs the backup jobs on the containers' local time (TZ = homelab:timezone).
  const jobs = [
    { what: "backupSchedule", schedule: config.backup.schedule },
    { what: "backupCheckSchedule", schedule: config.backup.checkSchedule },
    { what: "drillSchedule", schedule: config.backup.drillSchedule },
    ...services.flatMap((s) =>
      s.backup && s.backup.schedule !== config.backup.schedule
        ? [{ what: `the backup of ${s.name}`, schedule: s.backup.schedule }]
        : [],
    ),
  ];
  for (const w of scheduleDstWarnings(config.timezone, jobs)) warn(w);
  const secrets = new pulumi.Config(project);
  const userSecrets = {
    acmeDnsToken: raw.secretsPresent.includes("acmeDnsToken")
      ? secrets.requireSecret("acmeDnsToken")
      : undefined,
    smtpPassword: raw.secretsPresent.includes("smtpPassword")
      ? secrets.requireSecret("smtpPassword")
      : undefined,
  };
  const peers = connectPeers(config, project);
  const sshPrivateKey = raw.secretsPresent.includes("sshPrivateKey")
    ? secrets.requireSecret("sshPrivateKey")
    : undefined;
  const provider = dockerProvider(config, serverBootstrap(config, sshPrivateKey));
  const server = new Server(
    stack,
    {
      config,
      services,
      secretNames: declaration.secrets ?? [],
      role: declaration.role,
      peers,
      userSecrets,
    },
    { providers: { docker: provider } },
  );
  return {
    endpoints: server.endpoints,
    syncthing: server.syncthing,
    backups: server.backups,
    backupPasswords: server.backupPasswords,
    ntfy: server.ntfy,
    ntfyPublishTokens: server.ntfyPublishTokens,
    sso: server.sso,
    ssoRoutes: server.ssoRoutes,
    summary: server.summary,
    credentials: server.credentials,
    catalogue: server.catalogue,
  };
}

/** The stack outputs of a server (what index.ts exports). */
export type ServerOutputs = ReturnType<typeof createServerStack>;

/**
 * The outputs a server has: the ntfy ones only where ntfy runs. An output exported as
 * `undefined` makes every run print "Undefined value (ntfy) will not show as a stack output"
 * (`@pulumi/pulumi` runtime/stack.js, `massage`), which the mocks never show.
 */
export function stackOutputs(out: ServerOutputs): Partial<ServerOutputs> {
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}
