/**
 * What a server derives from its peers' outputs: where its alerts go, which Syncthing devices
 * and folders it declares, and which replicas it verifies. Outputs in, Outputs out; no
 * resources are created here (the Server component does that).
 */
import * as pulumi from "@pulumi/pulumi";
import type { ReplicaRepo } from "../components/backup-replicas";
import {
  BACKUP_MOUNT,
  REPLICA_VERSIONS_MAX_AGE_DAYS,
  SYSTEM_SUBDOMAINS,
} from "../components/defaults";
import { CatalogueEntry, CatalogueGroup, catalogueEntryProblem } from "../configs/homepage";
import { alertTopic } from "../configs/ntfy";
import type { SyncthingDevice, SyncthingFolder } from "../configs/syncthing";
import { DOMAIN_RE, GROUP_RE } from "./checks";
import type { StackConfig } from "./config";
import { ProtectedRoute, underDomain } from "../configs/authelia";
import { byText } from "./order";
import type { PeerView } from "./peers";
import { isVolumePath } from "./rules";
import { warn } from "./warnings";

/** Id of the Syncthing folder holding a server's repositories (the same on every device). */
export function ownFolderId(stack: string): string {
  return `backups-${stack}`;
}

/** Where a server sends alerts: ntfy base URL ("" until known), topic and publish token. */
export interface AlertRoute {
  url: pulumi.Output<string>;
  topic: pulumi.Output<string>;
  /**
   * Secret; "" until the ntfy server is deployed and publishes a token for this server (first
   * deployment, or a server added since). Whoever uploads it as a file must leave the file out
   * then (components/docker.ts `uploadsWithout`): the provider refuses an empty upload.
   */
  token: pulumi.Output<string>;
}

/** The local ntfy, as far as routing alerts is concerned. */
export interface LocalNtfy {
  url: string;
  publishTokens: pulumi.Output<Record<string, string>>;
}

/** ntfy on this server, on a peer, or nowhere (then only the fallback provider alerts). */
export function alertRoute(
  cfg: StackConfig,
  peers: PeerView[],
  local: LocalNtfy | undefined,
): AlertRoute | undefined {
  if (local) {
    return {
      url: pulumi.output(local.url),
      topic: pulumi.output(alertTopic(cfg.ntfy.topicPrefix, cfg.stack)),
      token: local.publishTokens.apply((t) => t[cfg.stack]!),
    };
  }
  const host = peers.find((p) => p.name === cfg.ntfy.server);
  if (!host) return undefined;
  return {
    url: host.ntfy.apply((n) => {
      if (!n) {
        warn(
          `ntfy server "${host.name}" publishes no ntfy output yet: alerts use the fallback until it is deployed.`,
        );
      }
      return n?.url ?? "";
    }),
    topic: host.ntfy.apply((n) => alertTopic(n?.topicPrefix ?? cfg.ntfy.topicPrefix, cfg.stack)),
    token: pulumi.secret(host.ntfyPublishTokens.apply((t) => t[cfg.stack] ?? "")),
  };
}

/** What a peer's `sso` output must look like before its address reaches Traefik's config. */
const FORWARD_AUTH_URL =
  /^https:\/\/[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+:\d{1,5}\/api\/authz\/forward-auth$/;

/**
 * The forward-auth address this server's Traefik sends admin routes to: its own Authelia by
 * container name, the SSO peer's published one, or none (basic auth stays) when there is no
 * single sign-on, the SSO server is not deployed yet, this server's domain is not under its
 * cookie domain, or what it published is malformed. Never fails open: without an address
 * every admin route keeps its basic-auth login.
 */
export function ssoForwardAuth(
  cfg: StackConfig,
  peers: PeerView[],
  local: string | undefined,
): pulumi.Output<string | undefined> {
  if (!cfg.sso.server) return pulumi.output(undefined);
  if (local) return pulumi.output(local);
  const host = peers.find((p) => p.name === cfg.sso.server);
  if (!host) return pulumi.output(undefined);
  return host.sso.apply((sso) => {
    if (!sso) {
      warn(
        `SSO server "${host.name}" publishes no sso output yet: admin UIs here keep their basic-auth login until it is deployed; then run \`pulumi up --stack ${cfg.stack}\` again.`,
      );
      return undefined;
    }
    const cookieDomain = typeof sso.cookieDomain === "string" ? sso.cookieDomain : "";
    if (
      typeof sso.forwardAuth !== "string" ||
      !FORWARD_AUTH_URL.test(sso.forwardAuth) ||
      !DOMAIN_RE.test(cookieDomain)
    ) {
      warn(
        `SSO server "${host.name}" published an sso output this version cannot use (${JSON.stringify(sso)}); admin UIs here keep basic auth. Update and redeploy ${host.name}.`,
      );
      return undefined;
    }
    if (!underDomain(cfg.domain, cookieDomain)) {
      warn(
        `SSO: this server's domain ${cfg.domain} is not under the session cookie domain ${cookieDomain} of "${host.name}", so its admin UIs cannot share the login; they keep basic auth. Give every server a domain under ${cookieDomain}.`,
      );
      return undefined;
    }
    return sso.forwardAuth;
  });
}

/**
 * On the SSO server: the routes of this server and of its peers open to groups besides the
 * admins, for Authelia's access rules. A peer's list comes from its stack output: an entry
 * that is not a host under the cookie domain with group names is left out (its route stays
 * admins-only, since Authelia denies what no rule allows) and named in a warning.
 */
export function ssoGroupRoutes(
  own: ProtectedRoute[],
  peers: PeerView[],
  cookieDomain: string,
  ownDomain: string,
): pulumi.Output<ProtectedRoute[]> {
  const hostOf = (url: string) => /^https:\/\/([^/:]+)/.exec(url)?.[1];
  const wellFormed = (r: unknown): r is ProtectedRoute => {
    const x = r as ProtectedRoute;
    return (
      typeof x === "object" &&
      x !== null &&
      typeof x.host === "string" &&
      DOMAIN_RE.test(x.host) &&
      x.host.endsWith(`.${cookieDomain}`) &&
      Array.isArray(x.groups) &&
      x.groups.length > 0 &&
      x.groups.every((g) => typeof g === "string" && GROUP_RE.test(g))
    );
  };
  const system = new Set<string>(Object.values(SYSTEM_SUBDOMAINS));
  return pulumi
    .all(
      peers.map((p) =>
        pulumi
          .all([p.ssoRoutes, p.endpoints])
          .apply(([routes, endpoints]) => ({ peer: p.name, routes, endpoints })),
      ),
    )
    .apply((lists) => {
      const served = new Map(
        lists.map((l) => [l.peer, new Set(l.endpoints.map((e) => hostOf(e.url)))]),
      );
      // A peer may open only a route it serves itself: a host it watches as its own (its
      // endpoints output), no other server serves, not a standard component's, and not on
      // this server. Otherwise one peer could open another server's admin UIs to a group.
      const its = (peer: string, host: string) =>
        served.get(peer)!.has(host) &&
        [...served].every(([other, hosts]) => other === peer || !hosts.has(host)) &&
        !system.has(host.split(".")[0]!) &&
        !underDomain(host, ownDomain);
      return [
        ...own,
        ...lists.flatMap(({ peer, routes }): ProtectedRoute[] => {
          if (routes === undefined || routes === null) return [];
          const list: unknown[] = Array.isArray(routes) ? routes : [routes];
          const ok = list.filter((r): r is ProtectedRoute => wellFormed(r) && its(peer, r.host));
          const bad = list.filter((r) => !ok.includes(r as ProtectedRoute));
          if (bad.length > 0 || !Array.isArray(routes))
            warn(
              `peer "${peer}" published ssoRoutes this server cannot use (${JSON.stringify(bad).slice(0, 200)}): a peer may open only its own service routes; those stay admins-only. Update and redeploy ${peer}.`,
            );
          return ok.map((r): ProtectedRoute => ({ host: r.host, groups: [...r.groups].sort() }));
        }),
      ];
    });
}

/** A dump trailer a peer may publish: words, no shell or grep syntax that matters. */
const SAFE_TRAILER = /^[A-Za-z0-9 .-]{1,80}$/;

/**
 * The SQLite databases a peer says its snapshots hold; a path that is not one (it would be
 * word-split or globbed by the drill's loop) is dropped with a warning.
 */
function publishedDatabases(peer: string, b: { service: string; databases?: unknown }): string[] {
  if (b.databases === undefined) return [];
  const list = Array.isArray(b.databases) ? b.databases : [b.databases];
  // What `backup.databases` allows on the peer itself (lib/rules.ts).
  const ok = list.filter(isVolumePath);
  if (ok.length !== list.length)
    warn(
      `peer "${peer}" published databases for ${b.service} this server cannot use (${JSON.stringify(b.databases).slice(0, 200)}); their drill checks only the files. Update and redeploy ${peer}.`,
    );
  return ok;
}

/**
 * Peers' repositories whose Syncthing folder lists this server as a replica, with their keys
 * only where this server is trusted with them (`trust: full`).
 */
export function replicaRepos(cfg: StackConfig, peers: PeerView[]): pulumi.Output<ReplicaRepo[]> {
  return pulumi
    .all(
      peers.map((p) =>
        pulumi.all([p.syncthing, p.backups, p.backupPasswords]).apply(([st, backups, pw]) =>
          st?.folder.replicas.includes(cfg.stack)
            ? backups.map((b): ReplicaRepo => ({
                origin: p.name,
                service: b.service,
                ...(cfg.trust === "full" ? { password: pw[b.service] ?? "" } : {}),
                verifyFiles: b.verifyFiles,
                databases: publishedDatabases(p.name, b),
                ...(b.dumpFile ? { dumpFile: b.dumpFile } : {}),
                ...(typeof b.dumpComplete === "string" && SAFE_TRAILER.test(b.dumpComplete)
                  ? { dumpComplete: b.dumpComplete }
                  : {}),
              }))
            : [],
        ),
      ),
    )
    .apply((lists) => lists.flat());
}

/**
 * Syncthing devices (peers that publish one) and folders: this server's repositories, sent
 * to the peers in `backupReplicateTo`, and a receive-only, versioned folder per peer that
 * lists this server as a replica.
 */
export function syncthingTopology(
  cfg: StackConfig,
  peers: PeerView[],
): { devices: pulumi.Output<SyncthingDevice[]>; folders: pulumi.Output<SyncthingFolder[]> } {
  const state = pulumi.all(peers.map((p) => p.syncthing.apply((st) => ({ name: p.name, st }))));
  const devices = state.apply((list): SyncthingDevice[] =>
    list.flatMap(({ name, st }) =>
      st ? [{ name, deviceId: st.deviceId, address: st.address }] : [],
    ),
  );
  const folders = state.apply((list): SyncthingFolder[] => {
    const known = list.filter((p) => p.st).map((p) => p.name);
    for (const r of cfg.backup.replicateTo) {
      if (!known.includes(r)) {
        warn(
          `backups of ${cfg.stack} cannot replicate to "${r}" yet: it publishes no Syncthing device.`,
        );
      }
    }
    const own: SyncthingFolder = {
      id: ownFolderId(cfg.stack),
      label: `restic repositories of ${cfg.stack}`,
      path: `${BACKUP_MOUNT}/${cfg.stack}`,
      type: "sendonly",
      devices: cfg.backup.replicateTo.filter((r) => known.includes(r)).sort(),
    };
    const received = list.flatMap(({ name, st }): SyncthingFolder[] =>
      st?.folder.replicas.includes(cfg.stack)
        ? [
            {
              id: st.folder.id,
              label: `replica of ${name}'s restic repositories`,
              path: `${BACKUP_MOUNT}/${name}`,
              type: "receiveonly",
              devices: [name],
              versionsMaxAgeDays: REPLICA_VERSIONS_MAX_AGE_DAYS,
            },
          ]
        : [],
    );
    return [own, ...received];
  });
  return { devices, folders };
}

/**
 * The homepage's sections: this server's catalogue, then each peer's, by server name. A peer
 * that publishes no catalogue yet (not deployed, or by an older version) is left out with a
 * warning, and so is any entry of a peer's that is not a valid catalogue entry.
 */
export function homepageGroups(
  cfg: StackConfig,
  own: CatalogueEntry[],
  peers: PeerView[],
): pulumi.Output<CatalogueGroup[]> {
  const read = peers.map((p) => p.catalogue.apply((c) => ({ name: p.name, catalogue: c })));
  return pulumi.all(read).apply((list) => {
    const groups: CatalogueGroup[] = [{ server: cfg.stack, entries: own }];
    for (const { name, catalogue } of [...list].sort((a, b) => byText(a.name, b.name))) {
      if (catalogue === undefined) {
        warn(
          `the homepage on ${cfg.stack} does not list "${name}" yet: it publishes no catalogue. ` +
            `Deploy it (\`pulumi up --stack ${name}\`), then \`pulumi up --stack ${cfg.stack}\`.`,
        );
        continue;
      }
      const entries = catalogue.filter((e, i) => {
        const problem = catalogueEntryProblem(e);
        if (problem)
          warn(`the homepage on ${cfg.stack} leaves out entry ${i} of "${name}": ${problem}.`);
        return !problem;
      });
      groups.push({ server: name, entries: entries.map((e) => ({ ...e, server: name })) });
    }
    return groups;
  });
}
