/**
 * The stack config parser: turns the raw values of the keys declared in config-keys.ts into a
 * typed, defaulted `StackConfig`, or throws one `ConfigError` listing every problem.
 */
import { getPublicSuffix } from "tldts";
import * as pulumi from "@pulumi/pulumi";
import { isIP } from "node:net";
import {
  DOMAIN_RE,
  GROUP_RE,
  IMAGE_RE,
  ENV_NAME_RE,
  NAME_RE,
  Problems,
  didYouMean,
  isRecord,
  lookup,
  pathKey,
  show,
  unknownKeys,
} from "./checks";
import { CONFIG_KEYS, SECRET_KEYS } from "./config-keys";
import { Reader } from "./config-reader";
import { ServiceOverride, ServiceSpec, UPDATE_POLICIES, UpdatePolicy } from "./model";
import { byKey } from "./order";
import { checkRetention, checkRetentionNumber, checkSecretName, checkSubdomain } from "./rules";
import { declaredService } from "./stack-services";
import { hostOf, sshOptsOf } from "./ssh-options";
import { warn } from "./warnings";

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
 * Variables the DNS token must not be put in: Traefik's container already has them or its
 * process reads them as settings, so the token would replace them. TZ (set by this program),
 * PATH/HOME/HOSTNAME (the image and Docker), LD_* (the loader), TRAEFIK_* (Traefik's static
 * config from the environment, traefik v3.5.3 pkg/cli/loader_env.go:13-23), LEGO_* (lego's own
 * switches, lego v4.25.2 lego/client_config.go:24-34, challenge/dns01/dns_challenge.go:201),
 * Go's runtime (GODEBUG, GOMAXPROCS, …, https://pkg.go.dev/runtime#hdr-Environment_Variables),
 * proxies (https://pkg.go.dev/net/http#ProxyFromEnvironment) and CA files
 * (SSL_CERT_FILE/SSL_CERT_DIR, https://pkg.go.dev/crypto/x509#SystemCertPool).
 */
const RESERVED_ENV =
  /^(PATH|HOME|HOSTNAME|TZ|USER|SHELL|PWD|LD_\w*|TRAEFIK_\w*|LEGO_\w*|GO[A-Z]+|(HTTPS?|NO|ALL)_PROXY|SSL_CERT_(FILE|DIR))$/i;

/**
 * lego DNS providers that work with the one variable this program passes (`acmeDnsToken` in
 * this variable). Checked against lego v4.25.2, the lego of the pinned Traefik v3.5.3
 * (github:traefik/traefik go.mod at v3.5.3); test/dns-providers.test.ts holds the facts.
 */
export const KNOWN_DNS_TOKEN_ENV: Record<string, string> = lookup({
  cloudflare: "CF_DNS_API_TOKEN",
  digitalocean: "DO_AUTH_TOKEN",
  duckdns: "DUCKDNS_TOKEN",
  gandiv5: "GANDIV5_PERSONAL_ACCESS_TOKEN",
  hetzner: "HETZNER_API_KEY",
  linode: "LINODE_TOKEN",
  desec: "DESEC_TOKEN",
});

/**
 * lego DNS providers whose usual credentials are several variables, which one `acmeDnsToken`
 * cannot carry: `sets` are the variables lego reads together, `single` a variable that works
 * alone, if any (lego v4.25.2 providers/dns/<name>/<name>.go; see test/dns-providers.test.ts).
 */
export const MULTI_VARIABLE_DNS_PROVIDERS: Record<string, { sets: string[][]; single?: string }> =
  lookup({
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
  });

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

/** A user of the fleet's single sign-on. */
export interface SsoUser {
  name: string;
  email: string;
  groups: string[];
}
/** How far a server is trusted with its peers' backups (`homelab:trust`). */
export type Trust = "full" | "storage";
export const TRUST_LEVELS: readonly Trust[] = ["full", "storage"];

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
  /** Single sign-on: the stack that runs Authelia ("" for none) and, there, its users. */
  sso: { server: string; users: SsoUser[] };
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
  /** What this server may hold of its peers' backups: their keys, or ciphertext only. */
  trust: Trust;
  syncthing: { address: string; relays: boolean; globalDiscovery: boolean };
  /** Host addresses published ports bind to; [] is every interface. */
  bindAddresses: string[];
  watchtowerSchedule: string;
  gatusPublic: boolean;
  /** The server's role ("" leaves it to stacks/<stack>.ts, or to what the server runs). */
  role: string;
  /** Overrides of the services of stacks/<stack>.ts (and `enabled` of those declared here). */
  services: Record<string, ServiceOverride>;
  /** Whole services declared in the stack file (`homelab:services.<name>` with an image). */
  declared: ServiceSpec[];
  /** Generated secrets the stack file's services refer to with `{ secret: <name> }`. */
  secrets: string[];
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

  const host = hostOf(r);
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
  const ssoServer = r.str("sso", { pattern: NAME_RE, what: "a stack name", allowEmpty: true });
  if (ssoServer && ssoServer !== ctx.stack && !peers.includes(ssoServer)) {
    p.add("sso", `"${ssoServer}" must be this stack or one of peers (${show(peers)})`);
  }
  const ssoUsers = parseSsoUsers(r, p);
  const ownDomain = typeof raw.values.domain === "string" ? raw.values.domain : "";
  const cookieParent = ownDomain.split(".").slice(1).join(".");
  if (ssoServer === ctx.stack && ownDomain && !cookieParent.includes(".")) {
    p.add(
      "sso",
      `this stack runs the single sign-on, so its session cookie is set for the parent of its domain ${show(ownDomain)}, which has no parent with a dot; give it a domain like auth-host.example.com`,
    );
  } else if (
    ssoServer === ctx.stack &&
    ownDomain &&
    getPublicSuffix(cookieParent, { allowPrivateDomains: true }) === cookieParent
  ) {
    // Authelia refuses a cookie domain on the public suffix list, private entries included
    // (authelia v4.39.20 internal/configuration/validator/session.go:141-142, util.go:57-66,
    // weppos/publicsuffix-go with its default rules).
    p.add(
      "sso",
      `this stack runs the single sign-on, so its session cookie is set for the parent of its domain ${show(ownDomain)}, but ${show(cookieParent)} is a public suffix (anyone can have a name under it), which Authelia refuses: give the servers domains under one you own`,
    );
  }
  if (ssoServer === ctx.stack && !ssoUsers.some((u) => u.groups.includes("admins"))) {
    p.add(
      "ssoUsers",
      `this stack runs the single sign-on (sso: ${ctx.stack}) but no user is in group "admins", so nobody could open an admin UI: add one, e.g. "alice:alice@example.com:admins"`,
    );
  }
  if (ssoServer !== ctx.stack && ssoUsers.length > 0) {
    p.add(
      "ssoUsers",
      ssoServer
        ? `users belong in the stack file of the SSO server "${ssoServer}", not here`
        : `there is no single sign-on (sso is ""): set sso to the stack that runs it`,
    );
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
      opts: sshOptsOf(r, p),
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
    sso: { server: ssoServer, users: ssoServer === ctx.stack ? ssoUsers : [] },
    homepageServer,
    fallbackAlert: parseFallback(r, p, secretsSet),
    backup: {
      schedule: r.cron("backupSchedule"),
      checkSchedule: r.cron("backupCheckSchedule"),
      drillSchedule: r.cron("drillSchedule"),
      ...retention(r, p),
      replicateTo: replicateTo.includes("*") ? peers.filter((x) => x !== "*") : replicateTo,
    },
    trust: r.oneOf("trust", TRUST_LEVELS),
    syncthing: {
      address: r.str("syncthingAddress", {
        pattern: /^(tcp|quic):\/\/[A-Za-z0-9.:[\]-]+:\d+$/,
        what: "an address like tcp://host:22000",
        allowEmpty: true,
      }),
      relays: r.bool("syncthingRelays"),
      globalDiscovery: r.bool("syncthingGlobalDiscovery"),
    },
    bindAddresses: bindAddressesOf(r, p),
    watchtowerSchedule: r.cron("watchtowerSchedule", true),
    gatusPublic: r.bool("gatusPublic"),
    role: r.str("role", {
      pattern: /^[^\n\r<>`]{0,120}$/,
      what: "one line of text",
      allowEmpty: true,
    }),
    ...parseServices(r, p, ctx),
    secrets: parseSecrets(r, p),
  };
  if (!p.empty) throw new ConfigError(ctx.stack, p.lines);
  return config;
}

function retention(r: Reader, p: Problems) {
  const out = {
    keepDaily: r.int("keepDaily", 0, 1000),
    keepWeekly: r.int("keepWeekly", 0, 1000),
    keepMonthly: r.int("keepMonthly", 0, 1000),
  };
  checkRetention(p, "keepDaily", out);
  return out;
}

/**
 * The addresses published ports bind to: IP addresses (Docker's HostIP takes an address, not a
 * name or a mask), each once.
 */
function bindAddressesOf(r: Reader, p: Problems): string[] {
  const list = r.strArray("bindAddresses");
  const seen = new Set<string>();
  return list.filter((a, i) => {
    if (!isIP(a)) p.expected(`bindAddresses[${i}]`, "an IPv4 or IPv6 address like 100.64.0.1", a);
    else if (seen.has(a)) p.add(`bindAddresses[${i}]`, `duplicate ${show(a)}`);
    else return seen.add(a);
    return false;
  });
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
  let explicitEnv = r.str("acmeDnsTokenEnv", {
    pattern: ENV_NAME_RE,
    what: "an environment variable name",
    allowEmpty: true,
  });
  if (explicitEnv && RESERVED_ENV.test(explicitEnv)) {
    p.add(
      "acmeDnsTokenEnv",
      `${show(explicitEnv)} is a variable Traefik's container or process already uses (PATH, HOME, TZ, LD_*, TRAEFIK_*, LEGO_*, GO*, proxies, CA files): name the variable your DNS provider reads its token from, e.g. CF_DNS_API_TOKEN`,
    );
    explicitEnv = "";
  }
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

/** Publisher of server S on the ntfy server: `publisher-S` (components/ntfy.ts). */
export const NTFY_PUBLISHER_PREFIX = "publisher-";
/**
 * Names an extra ntfy user may not take: the generated admin, and ntfy's names for anonymous
 * access ("everyone", and "*", which the user pattern already refuses: binwiederhier/ntfy
 * cmd/access.go:18,49, user/types.go:239), which would open a topic to anyone.
 */
const NTFY_RESERVED_USERS = ["admin", "everyone"];
/**
 * `ssoUsers`: 'name:email:group1,group2'. A name is Authelia's username and the key of its
 * file user database; groups are matched by the access rules (`group:<name>`).
 */
function parseSsoUsers(r: Reader, p: Problems): SsoUser[] {
  const seen = new Set<string>();
  return r.strArray("ssoUsers").flatMap((entry, i) => {
    const key = `ssoUsers[${i}]`;
    const [name = "", email = "", groups = "", ...rest] = entry.split(":");
    const groupList = groups.split(",").filter(Boolean);
    if (
      rest.length > 0 ||
      !/^[a-z][a-z0-9_.-]{0,63}$/.test(name) ||
      !/^[^@\s:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/.test(email) ||
      groupList.length === 0 ||
      !groupList.every((g) => GROUP_RE.test(g))
    ) {
      p.expected(key, `"name:email:group1,group2" (e.g. "alice:alice@example.com:admins")`, entry);
      return [];
    }
    if (seen.has(name)) {
      p.add(key, `user "${name}" is listed twice`);
      return [];
    }
    seen.add(name);
    return [{ name, email, groups: [...new Set(groupList)].sort() }];
  });
}

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
    if (user.startsWith(NTFY_PUBLISHER_PREFIX) || NTFY_RESERVED_USERS.includes(user)) {
      p.add(
        `ntfyAccess[${i}]`,
        `user ${show(user)} is reserved: ${NTFY_PUBLISHER_PREFIX}<server> are the servers' publishers, "admin" the generated admin, "everyone" and "*" mean anyone without a login in ntfy's access rules; pick another user name`,
      );
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
  if (ntfy && ntfy[1]!.startsWith("http:")) {
    // The alert crosses the internet: in plain HTTP anyone on the path reads and can forge it.
    p.add(
      "fallbackAlert",
      `${show(raw)} sends alerts over plain HTTP: use https:// (ntfy.sh and every ntfy behind a proxy serve it)`,
    );
    return undefined;
  }
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

/** `homelab:secrets`: names of generated secrets, each valid and once. */
function parseSecrets(r: Reader, p: Problems): string[] {
  const seen = new Set<string>();
  return r.strArray("secrets").filter((n, i) => {
    const before = p.lines.length;
    checkSecretName(p, `secrets[${i}]`, n);
    if (seen.has(n)) p.add(`secrets[${i}]`, `duplicate secret "${n}"`);
    seen.add(n);
    return p.lines.length === before;
  });
}

/**
 * `homelab:services`: for a service of stacks/<stack>.ts, its overrides; for any other name with
 * an `image`, a whole service declared here (its rules are checked with the code's, in
 * lib/resolve.ts).
 */
function parseServices(
  r: Reader,
  p: Problems,
  ctx: ParseContext,
): { services: Record<string, ServiceOverride>; declared: ServiceSpec[] } {
  const serviceNames = ctx.serviceNames;
  const obj = r.object("services");
  const out: Record<string, ServiceOverride> = lookup({});
  const declared: ServiceSpec[] = [];
  for (const name of Object.keys(obj).sort()) {
    const path = `services.${pathKey(name)}`;
    const o = obj[name];
    if (!serviceNames.includes(name) && isRecord(o) && "image" in o) {
      const d = declaredService(p, path, name, o);
      if (!d) continue;
      // Only an image (and what an override may carry) next to a service of a similar name:
      // more likely a misspelt override than a new service.
      const near = didYouMean(name, serviceNames);
      if (near && Object.keys(o).every((k) => (OVERRIDE_KEYS as readonly string[]).includes(k))) {
        warn(
          `${path}: declared in Pulumi.${ctx.stack}.yaml as a new service, since stacks/${ctx.stack}.ts has no "${name}"${near}; to override that one, fix the name`,
        );
      }
      declared.push(d.spec);
      if (d.enabled !== undefined) out[name] = { enabled: d.enabled };
      continue;
    }
    if (!serviceNames.includes(name)) {
      const known = serviceNames.length
        ? `services: ${serviceNames.join(", ")}`
        : `stacks/${ctx.stack}.ts declares none`;
      p.add(
        path,
        `no service ${show(name)} on this server${didYouMean(name, serviceNames)}; ${known}; to declare a new service here, give it an image`,
      );
      continue;
    }
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
    if (o.subdomain !== undefined && checkSubdomain(p, `${path}.subdomain`, o.subdomain))
      res.subdomain = o.subdomain;
    if (o.updates !== undefined)
      res.updates = v.oneOf("updates", UPDATE_POLICIES as readonly UpdatePolicy[]);
    if (o.backupSchedule !== undefined) res.backupSchedule = v.cron("backupSchedule");
    for (const k of ["keepDaily", "keepWeekly", "keepMonthly"] as const) {
      const n = typeof o[k] === "string" && /^-?\d+$/.test(o[k]) ? Number(o[k]) : o[k];
      if (o[k] !== undefined && checkRetentionNumber(p, `${path}.${k}`, n)) res[k] = n;
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
  return { services: out, declared };
}

export { CONFIG_KEYS, SECRET_KEYS };
export type { ConfigKey, KeySpec } from "./config-keys";
