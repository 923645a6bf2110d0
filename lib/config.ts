/**
 * The stack config parser: turns the raw values of the keys declared in config-keys.ts into a
 * typed, defaulted `StackConfig`, or throws one `ConfigError` listing every problem.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  DOMAIN_RE,
  IMAGE_RE,
  ENV_NAME_RE,
  NAME_RE,
  Problems,
  didYouMean,
  isRecord,
  pathKey,
  show,
  unknownKeys,
} from "./checks";
import { CONFIG_KEYS, SECRET_KEYS } from "./config-keys";
import { Reader } from "./config-reader";
import { ServiceOverride, UPDATE_POLICIES, UpdatePolicy } from "./model";
import { byKey } from "./order";

/** Keys a service override in `homelab:services.<name>` may set. */
export const OVERRIDE_KEYS = [
  "enabled",
  "image",
  "env",
  "subdomain",
  "updates",
  "backupSchedule",
  "keepDaily",
  "keepWeekly",
  "keepMonthly",
] as const satisfies readonly (keyof ServiceOverride)[];

/**
 * lego DNS providers that work with the one variable this program passes (`acmeDnsToken` in
 * this variable). Checked against lego v4.25.2, the lego of the pinned Traefik v3.5.3
 * (github:traefik/traefik go.mod at v3.5.3); test/dns-providers.test.ts holds the facts.
 */
export const KNOWN_DNS_TOKEN_ENV: Record<string, string> = {
  cloudflare: "CF_DNS_API_TOKEN",
  digitalocean: "DO_AUTH_TOKEN",
  duckdns: "DUCKDNS_TOKEN",
  gandiv5: "GANDIV5_PERSONAL_ACCESS_TOKEN",
  hetzner: "HETZNER_API_KEY",
  linode: "LINODE_TOKEN",
  desec: "DESEC_TOKEN",
};

/**
 * lego DNS providers whose usual credentials are several variables, which one `acmeDnsToken`
 * cannot carry: `sets` are the variables lego reads together, `single` a variable that works
 * alone, if any (lego v4.25.2 providers/dns/<name>/<name>.go; see test/dns-providers.test.ts).
 */
export const MULTI_VARIABLE_DNS_PROVIDERS: Record<string, { sets: string[][]; single?: string }> = {
  cloudflare: {
    sets: [
      ["CF_API_EMAIL", "CF_API_KEY"],
      ["CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY"],
    ],
  },
  ovh: {
    sets: [
      ["OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY"],
      ["OVH_CLIENT_ID", "OVH_CLIENT_SECRET"],
    ],
    single: "OVH_ACCESS_TOKEN",
  },
};

const listVars = (set: string[]) =>
  set.length > 1 ? `${set.slice(0, -1).join(", ")} and ${set[set.length - 1]}` : set.join("");

/** The problem with passing the DNS token in `env` for `provider` alone, or "". */
function dnsTokenEnvProblem(provider: string, env: string, explicit: boolean): string {
  const multi = MULTI_VARIABLE_DNS_PROVIDERS[provider];
  if (!multi) return "";
  const sets = multi.sets.map(listVars).join(", or ");
  const alone = multi.single
    ? `; set acmeDnsTokenEnv to ${multi.single} to use that one variable alone`
    : "";
  if (!explicit && !KNOWN_DNS_TOKEN_ENV[provider]) {
    return `required for DNS provider "${provider}": lego's ${provider} provider needs more than one variable (${sets}), and this program passes one (acmeDnsToken, in acmeDnsTokenEnv)${alone}, or use another DNS provider or acmeChallenge "http"`;
  }
  const set = multi.sets.find((s) => s.includes(env));
  if (!set) return "";
  return `${env} alone is not enough for DNS provider "${provider}": lego reads it together with ${listVars(set.filter((v) => v !== env))}, and this program passes one variable (acmeDnsToken)${alone}`;
}

export type FallbackAlert =
  | { kind: "ntfy"; url: string; topic: string }
  | { kind: "email"; to: string; host: string; port: number; user: string };

/** An extra ntfy user and what it may do. */
export interface NtfyAccess {
  user: string;
  topic: string;
  permission: "read-only" | "write-only" | "read-write";
}

/** The parsed, defaulted stack config. Secret values are not part of it (see `secretsPresent`). */
export interface StackConfig {
  stack: string;
  host: string;
  domain: string;
  ssh: { user: string; port: number; opts: string[] };
  /** Run the bootstrap as `user` before the Docker provider is used; off: the host is ready. */
  bootstrap: {
    enabled: boolean;
    user: string;
    /** The host's SSH public key (`<type> <base64>`); "" checks none. */
    hostKey: string;
  };
  /** Organization of the peers' stacks; "" is this stack's own (`pulumi.getOrganization()`). */
  org: string;
  peers: string[];
  pendingPeers: string[];
  timezone: string;
  acme:
    | { email: string; staging: boolean; challenge: "http" }
    | { email: string; staging: boolean; challenge: "dns"; provider: string; tokenEnv: string };
  ntfy: { server: string; topicPrefix: string; access: NtfyAccess[] };
  /** Stack that hosts the fleet's homepage; "" for none. */
  homepageServer: string;
  fallbackAlert?: FallbackAlert;
  backup: {
    schedule: string;
    checkSchedule: string;
    drillSchedule: string;
    keepDaily: number;
    keepWeekly: number;
    keepMonthly: number;
    replicateTo: string[];
  };
  syncthing: { address: string; relays: boolean; globalDiscovery: boolean };
  watchtowerSchedule: string;
  gatusPublic: boolean;
  services: Record<string, ServiceOverride>;
}

/**
 * One or more configuration problems, listed under a header naming the stack. A RunError, so
 * Pulumi prints the message alone, without a stack trace.
 */
export class ConfigError extends pulumi.RunError {
  constructor(
    readonly stackName: string,
    readonly problems: string[],
  ) {
    const stack = stackName;
    const n = problems.length;
    super(
      `Invalid configuration for stack "${stack}" (Pulumi.${stack}.yaml), ${n} problem${n === 1 ? "" : "s"}:\n` +
        problems.map((l) => `  ${l}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Input of the parser: raw config values by bare key (strings as Pulumi stores them, or native values). */
export interface RawConfig {
  /**
   * Values of non-secret keys and of unknown keys (for did-you-mean). A secret key found here
   * was set without --secret; its value is never shown.
   */
  values: Record<string, unknown>;
  /** Secret keys that are set (their values never reach the parser). */
  secretsPresent: string[];
  /** Keys the program reads as plain text that were set with --secret anyway. */
  secretsElsewhere?: string[];
}

/** Context the parser checks references against. */
export interface ParseContext {
  stack: string;
  /** Services declared in `stacks/<stack>.ts`, for override names. */
  serviceNames: readonly string[];
}

/** Parses and checks the whole stack config; throws `ConfigError` with every problem. */
export function parseStackConfig(raw: RawConfig, ctx: ParseContext): StackConfig {
  const p = new Problems();
  const r = new Reader(p, raw.values);
  const keys = Object.keys(CONFIG_KEYS);
  for (const key of Object.keys(raw.values).sort()) {
    if (keys.includes(key)) continue;
    const hint = didYouMean(key, keys);
    p.add(pathKey(key), `unknown key${hint || "; every key is declared in Pulumi.yaml"}`);
  }
  for (const key of Object.keys(raw.values)) {
    if ((SECRET_KEYS as string[]).includes(key)) {
      p.add(
        key,
        `must be a secret: it is in plain text in Pulumi.${ctx.stack}.yaml; remove it there (and rotate it if the file was shared) and run pulumi config set --secret ${key} <value>`,
      );
    }
  }
  for (const key of raw.secretsElsewhere ?? []) {
    p.add(
      pathKey(key),
      `set with --secret, but the program reads it as plain text, so its value would reach the server's resources unprotected: set it without --secret (only ${SECRET_KEYS.join(", ")} are secrets; a service's password is a generated secret, \`secrets\` in stacks/${ctx.stack}.ts)`,
    );
  }
  // A secret set in plain text is reported above, once: not also as missing.
  const secretsSet = [...raw.secretsPresent, ...SECRET_KEYS.filter((k) => k in raw.values)];

  const host = r.str("host", {
    pattern: /^[A-Za-z0-9.:[\]-]+$/,
    what: "a host name or IP address",
  });
  const domain = r.str("domain", {
    pattern: DOMAIN_RE,
    what: "a lower-case domain like home.example.com",
  });
  const sshPort = r.int("sshPort", 1, 65535);
  const peers = r.names("peers");
  const pendingPeers = r.names("pendingPeers");
  if (peers.includes(ctx.stack)) p.add("peers", `must not list this stack itself ("${ctx.stack}")`);
  for (const [i, name] of pendingPeers.entries()) {
    if (!peers.includes(name))
      p.add(`pendingPeers[${i}]`, `"${name}" is not in peers (${show(peers)})`);
  }

  const acme = parseAcme(r, p, secretsSet);
  const ntfyServer = r.str("ntfyServer", {
    pattern: NAME_RE,
    what: "a stack name",
    allowEmpty: true,
  });
  if (ntfyServer && ntfyServer !== ctx.stack && !peers.includes(ntfyServer)) {
    p.add("ntfyServer", `"${ntfyServer}" must be this stack or one of peers (${show(peers)})`);
  }
  const homepageServer = r.str("homepageServer", {
    pattern: NAME_RE,
    what: "a stack name",
    allowEmpty: true,
  });
  if (homepageServer && homepageServer !== ctx.stack && !peers.includes(homepageServer)) {
    p.add(
      "homepageServer",
      `"${homepageServer}" must be this stack or one of peers (${show(peers)})`,
    );
  }
  const replicateTo = r.strArray("backupReplicateTo");
  for (const [i, name] of replicateTo.entries()) {
    if (name !== "*" && !peers.includes(name)) {
      p.add(
        `backupReplicateTo[${i}]`,
        `unknown peer ${show(name)}${didYouMean(name, peers)}; peers: ${show(peers)}`,
      );
    }
  }

  const config: StackConfig = {
    stack: ctx.stack,
    host,
    domain,
    ssh: {
      user: r.str("sshUser", { pattern: /^[a-z_][a-z0-9_-]*$/, what: "a user name" }),
      port: sshPort,
      opts: r.strArray("sshOpts"),
    },
    bootstrap: {
      enabled: r.bool("bootstrap"),
      user: r.str("bootstrapUser", { pattern: /^[a-z_][a-z0-9_-]*$/, what: "a user name" }),
      hostKey: hostKeyOf(r.str("hostKey", { allowEmpty: true }), p),
    },
    org: r.str("org", {
      pattern: /^[A-Za-z0-9._-]+$/,
      what: "an organization name",
      allowEmpty: true,
    }),
    peers,
    pendingPeers,
    timezone: r.str("timezone", {
      pattern: /^[A-Za-z0-9_+\-/]+$/,
      what: "a TZ name like Europe/Berlin",
    }),
    acme,
    ntfy: {
      server: ntfyServer,
      topicPrefix: r.str("ntfyTopicPrefix", {
        pattern: /^[A-Za-z0-9_-]{1,40}$/,
        what: "a topic prefix",
      }),
      access: parseNtfyAccess(r, p),
    },
    homepageServer,
    fallbackAlert: parseFallback(r, p, secretsSet),
    backup: {
      schedule: r.cron("backupSchedule"),
      checkSchedule: r.cron("backupCheckSchedule"),
      drillSchedule: r.cron("drillSchedule"),
      keepDaily: r.int("keepDaily", 0, 1000),
      keepWeekly: r.int("keepWeekly", 0, 1000),
      keepMonthly: r.int("keepMonthly", 0, 1000),
      replicateTo: replicateTo.includes("*") ? peers.filter((x) => x !== "*") : replicateTo,
    },
    syncthing: {
      address: r.str("syncthingAddress", {
        pattern: /^(tcp|quic):\/\/[A-Za-z0-9.:[\]-]+:\d+$/,
        what: "an address like tcp://host:22000",
        allowEmpty: true,
      }),
      relays: r.bool("syncthingRelays"),
      globalDiscovery: r.bool("syncthingGlobalDiscovery"),
    },
    watchtowerSchedule: r.cron("watchtowerSchedule", true),
    gatusPublic: r.bool("gatusPublic"),
    services: parseOverrides(r, p, ctx.serviceNames),
  };
  if (!p.empty) throw new ConfigError(ctx.stack, p.lines);
  return config;
}

function parseAcme(r: Reader, p: Problems, secrets: string[]): StackConfig["acme"] {
  const email = r.str("acmeEmail", {
    pattern: /^[^@\s]+@[^@\s]+\.[^@\s]+$/,
    what: "an e-mail address",
  });
  const staging = r.bool("acmeStaging");
  const challenge = r.oneOf("acmeChallenge", ["http", "dns"] as const);
  if (challenge !== "dns") return { email, staging, challenge: "http" };
  const provider = r.str("acmeDnsProvider", {
    pattern: /^[a-z0-9.-]+$/,
    what: "a lego DNS provider name",
  });
  const explicitEnv = r.str("acmeDnsTokenEnv", {
    pattern: ENV_NAME_RE,
    what: "an environment variable name",
    allowEmpty: true,
  });
  const tokenEnv = explicitEnv || KNOWN_DNS_TOKEN_ENV[provider] || "";
  const multiProblem = provider ? dnsTokenEnvProblem(provider, tokenEnv, !!explicitEnv) : "";
  if (multiProblem) {
    p.add("acmeDnsTokenEnv", multiProblem);
  } else if (provider && !tokenEnv) {
    p.add(
      "acmeDnsTokenEnv",
      `required for DNS provider "${provider}": name the variable its token goes in`,
    );
  }
  if (!secrets.includes("acmeDnsToken")) {
    p.add(
      "acmeDnsToken",
      `required when acmeChallenge is "dns": run pulumi config set --secret acmeDnsToken <token>`,
    );
  }
  return { email, staging, challenge: "dns", provider, tokenEnv };
}

/**
 * An SSH public key in the form pulumi-command's `connection.hostKey` takes, which it parses with
 * Go's ssh.ParseAuthorizedKey and pins with ssh.FixedHostKey (github:pulumi/pulumi-command
 * provider/pkg/provider/remote/connection.go:86-97). A known_hosts line (host first, as
 * ssh-keyscan prints it) is accepted and its host dropped.
 */
function hostKeyOf(raw: string, p: Problems): string {
  if (!raw) return "";
  const fields = raw.trim().split(/\s+/);
  const at = HOST_KEY_TYPE.test(fields[0] ?? "") ? 0 : HOST_KEY_TYPE.test(fields[1] ?? "") ? 1 : -1;
  const data = fields[at + 1] ?? "";
  if (at < 0 || !/^AAAA[A-Za-z0-9+/]+={0,3}$/.test(data)) {
    p.add(
      "hostKey",
      `expected an SSH public key like "ssh-ed25519 AAAA…" (ssh-keyscan -t ed25519 <host>), got ${show(raw)}`,
    );
    return "";
  }
  return `${fields[at]} ${data}`;
}
/**
 * Host key types the bootstrap can verify. pulumi-command offers only the pinned key's own type
 * as host-key algorithm (connection.go:93-94: `HostKeyAlgorithms = [publicKey.Type()]`); for an
 * RSA key that is "ssh-rsa" (SHA-1 signatures), which OpenSSH 8.8+ servers no longer offer, and
 * security-key types are never host keys. So: Ed25519 or ECDSA.
 */
const HOST_KEY_TYPE = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521))$/;

function parseNtfyAccess(r: Reader, p: Problems): NtfyAccess[] {
  const perms = ["read-only", "write-only", "read-write"] as const;
  return r.strArray("ntfyAccess").flatMap((entry, i) => {
    const [user = "", topic = "", permission = "", ...rest] = entry.split(":");
    const malformed =
      !/^[a-z][a-z0-9_-]*$/.test(user) || !/^[A-Za-z0-9_*-]+$/.test(topic) || rest.length > 0;
    if (malformed || permission === "") {
      p.expected(`ntfyAccess[${i}]`, `"user:topic:permission"`, entry);
      return [];
    }
    if (!(perms as readonly string[]).includes(permission)) {
      p.add(
        `ntfyAccess[${i}]`,
        `permission must be one of ${perms.join(", ")}, got ${show(permission)}`,
      );
      return [];
    }
    return [{ user, topic, permission: permission as NtfyAccess["permission"] }];
  });
}

function parseFallback(r: Reader, p: Problems, secrets: string[]): FallbackAlert | undefined {
  const raw = r.str("fallbackAlert", { allowEmpty: true });
  const smtpHost = r.str("smtpHost", { allowEmpty: true });
  const smtpPort = r.int("smtpPort", 1, 65535);
  const smtpUser = r.str("smtpUser", { allowEmpty: true });
  if (!raw) return undefined;
  const ntfy = /^ntfy:(https?:\/\/[A-Za-z0-9.:-]+)\/([A-Za-z0-9_-]{1,64})$/.exec(raw);
  if (ntfy) return { kind: "ntfy", url: ntfy[1]!, topic: ntfy[2]! };
  const email = /^email:([^@\s]+@[^@\s]+\.[^@\s]+)$/.exec(raw);
  if (email) {
    if (!smtpHost) p.add("smtpHost", `required when fallbackAlert is an e-mail address`);
    if (!smtpUser) p.add("smtpUser", `required when fallbackAlert is an e-mail address`);
    if (!secrets.includes("smtpPassword")) {
      p.add(
        "smtpPassword",
        `required when fallbackAlert is an e-mail address: run pulumi config set --secret smtpPassword <password>`,
      );
    }
    return { kind: "email", to: email[1]!, host: smtpHost, port: smtpPort, user: smtpUser };
  }
  p.expected("fallbackAlert", `"ntfy:https://<host>/<topic>" or "email:<address>"`, raw);
  return undefined;
}

function parseOverrides(
  r: Reader,
  p: Problems,
  serviceNames: readonly string[],
): Record<string, ServiceOverride> {
  const obj = r.object("services");
  const out: Record<string, ServiceOverride> = {};
  for (const name of Object.keys(obj).sort()) {
    const path = `services.${pathKey(name)}`;
    if (!serviceNames.includes(name)) {
      p.add(
        path,
        `no service ${show(name)} on this server${didYouMean(name, serviceNames)}; services: ${serviceNames.join(", ")}`,
      );
      continue;
    }
    const o = obj[name];
    if (!isRecord(o)) {
      p.expected(path, "an object of overrides", o);
      continue;
    }
    unknownKeys(p, path, o, OVERRIDE_KEYS);
    const v = new Reader(p, o, `${path}.`);
    const res: ServiceOverride = {};
    if (o.enabled !== undefined) res.enabled = v.bool("enabled");
    if (o.image !== undefined)
      res.image = v.str("image", {
        pattern: IMAGE_RE,
        what: "an image reference with a tag, like traefik:v3.5",
      });
    if (o.subdomain !== undefined)
      res.subdomain = v.str("subdomain", { pattern: NAME_RE, what: "a DNS label" });
    if (o.updates !== undefined)
      res.updates = v.oneOf("updates", UPDATE_POLICIES as readonly UpdatePolicy[]);
    if (o.backupSchedule !== undefined) res.backupSchedule = v.cron("backupSchedule");
    for (const k of ["keepDaily", "keepWeekly", "keepMonthly"] as const) {
      if (o[k] !== undefined) res[k] = v.int(k, 0, 1000);
    }
    if (o.env !== undefined) {
      const env = v.object("env");
      res.env = {};
      for (const [k, val] of Object.entries(env).sort(byKey)) {
        if (!ENV_NAME_RE.test(k))
          p.add(`${path}.env.${pathKey(k)}`, `expected an environment variable name`);
        else if (typeof val === "string" || typeof val === "number" || typeof val === "boolean")
          res.env[k] = String(val);
        else p.expected(`${path}.env.${pathKey(k)}`, "a string", val);
      }
    }
    out[name] = res;
  }
  return out;
}

export { CONFIG_KEYS, SECRET_KEYS };
export type { ConfigKey, KeySpec } from "./config-keys";
