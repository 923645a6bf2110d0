/**
 * Every `homelab:*` config key with its type, description and default. Pulumi.yaml declares the
 * same keys (a test keeps the two equal); the parser in config.ts reads them.
 */
type KeyType = "string" | "integer" | "boolean" | "array" | "object";

/** A declared config key. `default: undefined` means required. */
export interface KeySpec {
  type: KeyType;
  description: string;
  default?: unknown;
  secret?: boolean;
}

/** Every key of the `homelab` namespace. Pulumi.yaml declares the same keys and defaults. */
export const CONFIG_KEYS = {
  host: { type: "string", description: "SSH host name or address of the server's Docker engine." },
  domain: {
    type: "string",
    description: "Base domain; services are served at <service>.<domain>.",
  },
  sshUser: {
    type: "string",
    description: "SSH user that may run docker on the host.",
    default: "deploy",
  },
  sshPort: { type: "integer", description: "SSH port of the host.", default: 22 },
  sshOpts: {
    type: "array",
    description: 'Extra ssh arguments for the Docker provider, e.g. ["-i", "~/.ssh/homelab"].',
    default: [],
  },
  bootstrap: {
    type: "boolean",
    description:
      "Run configs/bootstrap.sh on the host over SSH (Docker engine, deploy user, data directories) before any container.",
    default: true,
  },
  bootstrapUser: {
    type: "string",
    description: "SSH user the bootstrap logs in as: root, or a user with passwordless sudo.",
    default: "root",
  },
  hostKey: {
    type: "string",
    description:
      "The host's SSH public key ('ssh-ed25519 AAAA…', as ssh-keyscan -t ed25519 <host> prints it after the host name): the bootstrap refuses a host that shows another; '' checks no key (warned).",
    default: "",
  },
  sshPrivateKey: {
    type: "string",
    description:
      "Private key (OpenSSH format) of the bootstrap's SSH login (set with --secret); '' uses the SSH agent.",
    default: "",
    secret: true,
  },
  org: {
    type: "string",
    description:
      "Organization of the peers' stacks; '' (the default) is this stack's own: your Pulumi Cloud organization, or the literal 'organization' on a self-managed backend.",
    default: "",
  },
  peers: { type: "array", description: "Stacks of the other servers of the fleet.", default: [] },
  pendingPeers: {
    type: "array",
    description:
      "Peers listed in 'peers' that are not deployed yet: not referenced until removed here.",
    default: [],
  },
  timezone: { type: "string", description: "TZ of every container.", default: "Etc/UTC" },
  acmeEmail: { type: "string", description: "Let's Encrypt account e-mail." },
  acmeChallenge: {
    type: "string",
    description: "ACME challenge: 'http' (HTTP-01, port 80 reachable) or 'dns' (DNS-01, wildcard).",
    default: "http",
  },
  acmeDnsProvider: {
    type: "string",
    description: "Traefik (lego) DNS provider for the 'dns' challenge, e.g. 'cloudflare'.",
    default: "",
  },
  acmeDnsTokenEnv: {
    type: "string",
    description:
      "Environment variable the DNS provider reads its token from; known providers need none.",
    default: "",
  },
  acmeDnsToken: {
    type: "string",
    description: "DNS API token for the 'dns' challenge (set with --secret).",
    default: "",
    secret: true,
  },
  acmeStaging: {
    type: "boolean",
    description: "Use the Let's Encrypt staging CA.",
    default: false,
  },
  ntfyServer: {
    type: "string",
    description:
      "Stack that hosts ntfy (it runs ntfy itself, the others publish to it); '' for none.",
    default: "",
  },
  sso: {
    type: "string",
    description:
      "Stack that hosts Authelia, the single sign-on in front of every admin UI of the fleet; '' for none (each admin UI keeps its own basic-auth login).",
    default: "",
  },
  ssoUsers: {
    type: "array",
    description:
      "On the SSO server: its users as 'name:email:group1,group2' (group 'admins' may use every admin UI). Passwords are generated (stack output credentials).",
    default: [],
  },
  homepageServer: {
    type: "string",
    description:
      "Stack that hosts the fleet's homepage (gethomepage), listing every server's services; '' for none.",
    default: "",
  },
  ntfyTopicPrefix: {
    type: "string",
    description: "Alerts of server S go to topic <prefix>-S.",
    default: "homelab",
  },
  ntfyAccess: {
    type: "array",
    description:
      "On the ntfy server: extra users as 'user:topic-pattern:read-only|write-only|read-write'.",
    default: [],
  },
  fallbackAlert: {
    type: "string",
    description:
      "Second alert path for when ntfy is down: 'ntfy:https://ntfy.sh/<topic>' or 'email:<address>'.",
    default: "",
  },
  smtpHost: {
    type: "string",
    description: "SMTP host for an 'email:' fallback alert.",
    default: "",
  },
  smtpPort: {
    type: "integer",
    description: "SMTP port for an 'email:' fallback alert.",
    default: 587,
  },
  smtpUser: {
    type: "string",
    description: "SMTP user (and sender) for an 'email:' fallback alert.",
    default: "",
  },
  smtpPassword: {
    type: "string",
    description: "SMTP password for an 'email:' fallback alert (set with --secret).",
    default: "",
    secret: true,
  },
  backupSchedule: {
    type: "string",
    description: "Default backup cron (5 fields).",
    default: "0 3 * * *",
  },
  backupCheckSchedule: {
    type: "string",
    description: "Cron of restic check on every repository, local and replica.",
    default: "30 4 * * 0",
  },
  drillSchedule: {
    type: "string",
    description: "Cron of the restore drill on every repository, local and replica.",
    default: "0 6 * * 0",
  },
  keepDaily: { type: "integer", description: "Default daily snapshots kept.", default: 7 },
  keepWeekly: { type: "integer", description: "Default weekly snapshots kept.", default: 4 },
  keepMonthly: { type: "integer", description: "Default monthly snapshots kept.", default: 6 },
  backupReplicateTo: {
    type: "array",
    description: "Peers that receive this server's backup repositories; ['*'] means every peer.",
    default: ["*"],
  },
  trust: {
    type: "string",
    description:
      "What this server may hold of its peers' backups: 'full' (their keys too: it checks and restore-drills their replicas) or 'storage' (ciphertext only: it verifies the replicas' files without any key).",
    default: "full",
  },
  syncthingAddress: {
    type: "string",
    description: "Address peers dial for Syncthing; '' means tcp://<host>:22000.",
    default: "",
  },
  bindAddresses: {
    type: "array",
    description:
      "Host IP addresses the published ports (Traefik 80/443, Syncthing 22000, services' ports) bind to, e.g. the server's tailnet address; [] binds every interface.",
    default: [],
  },
  syncthingRelays: { type: "boolean", description: "Allow Syncthing relays.", default: false },
  syncthingGlobalDiscovery: {
    type: "boolean",
    description: "Allow Syncthing global discovery.",
    default: false,
  },
  watchtowerSchedule: {
    type: "string",
    description: "Watchtower check schedule (6 fields, seconds first).",
    default: "0 0 4 * * *",
  },
  gatusPublic: {
    type: "boolean",
    description: "Serve the Gatus status page without a login.",
    default: false,
  },
  role: {
    type: "string",
    description:
      "The server's role, shown in the summary and the plan; '' is the role stacks/<name>.ts gives, or for a server without one, what it runs.",
    default: "",
  },
  services: {
    type: "object",
    description:
      "Services by name. For a service of stacks/<name>.ts, overrides: enabled, image, env, subdomain, updates, backupSchedule, keepDaily, keepWeekly, keepMonthly. Any other name with an image is a whole service declared here, with every field of the TypeScript declaration: image, description, group, env (values or { secret: <name> }), volumes, http (port, subdomain, healthPath, expectStatus, admin, groups), ports, command, user, backup (capture, databases, maxDowntime, hook, schedule, skipVolumes, dump, verifyFiles, keepDaily, keepWeekly, keepMonthly, enabled), updates, dependsOn, enabled.",
    default: {},
  },
  secrets: {
    type: "array",
    description:
      "Generated secrets (random, 32 characters, kept secret) that services declared here refer to in env as { secret: <name> }; names, not values.",
    default: [],
  },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export const SECRET_KEYS = (Object.keys(CONFIG_KEYS) as ConfigKey[]).filter(
  (k) => (CONFIG_KEYS[k] as KeySpec).secret === true,
);
