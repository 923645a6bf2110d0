import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { WatchEndpoint } from "../configs/gatus";
import {
  NTFY_CONTAINER,
  NTFY_PATHS,
  NtfyUser,
  alertTopic,
  renderNtfyConfig,
} from "../configs/ntfy";
import { traefikLabels } from "../configs/traefik";
import type { NtfyAccess } from "../lib/config";
import { IMAGES, SYSTEM_SUBDOMAINS } from "./defaults";
import { homelabContainer, homelabVolume, upload } from "./docker";

const TYPE = "homelab:index:Ntfy";

export interface NtfyArgs {
  /** Server (stack) name. */
  server: string;
  /** Base domain; ntfy is at ntfy.<domain>. */
  domain: string;
  /** TZ of the container. */
  timezone: string;
  /** Every server of the fleet that publishes alerts (this one included). */
  publishers: string[];
  /** Alerts of server S go to `<topicPrefix>-S`. */
  topicPrefix: string;
  /** Extra users (phones, other tools) and their access. */
  access: NtfyAccess[];
  /** Network Traefik routes on. */
  proxyNetwork: docker.Network;
}

/** A generated ntfy token: `tk_` and 29 lower-case letters or digits, as ntfy requires. */
function token(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  const r = new random.RandomPassword(
    name,
    { length: 29, special: false, upper: false },
    { parent },
  );
  return pulumi.interpolate`tk_${r.result}`;
}

/**
 * ntfy on the server that hosts it: nobody may read or write without an account
 * (deny-all, no signup), every server gets a write-only publisher with a token for its own
 * topic, `admin` may read everything, extra users come from config.
 */
export class Ntfy extends pulumi.ComponentResource {
  /** https base URL. */
  readonly url: string;
  /** Publish token of each server, by server name (secret). */
  readonly publishTokens: pulumi.Output<Record<string, string>>;
  /** Password of `admin` and of every extra user, by user name (secret). */
  readonly passwords: pulumi.Output<Record<string, string>>;
  /** Gatus watches the health endpoint. */
  readonly endpoint: WatchEndpoint;
  /** Its users' database and message cache, backed up by components/server.ts. */
  readonly dataVolume: docker.Volume;

  constructor(name: string, args: NtfyArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const host = `${SYSTEM_SUBDOMAINS.ntfy}.${args.domain}`;
    this.url = `https://${host}`;
    const publishers = [...new Set(args.publishers)].sort();
    const tokens = Object.fromEntries(
      publishers.map((s) => [s, token(`${name}-token-${s}`, this)]),
    );
    const extraUsers = [...new Set(args.access.map((a) => a.user))].sort();
    const people = ["admin", ...extraUsers.filter((u) => u !== "admin")];
    const passwords = Object.fromEntries(
      [...people, ...publishers.map((s) => `publisher-${s}`)].map((u) => [
        u,
        new random.RandomPassword(
          `${name}-password-${u}`,
          { length: 32, special: false },
          { parent: this },
        ),
      ]),
    );
    const users = pulumi
      .all([
        pulumi.all(
          Object.fromEntries(Object.entries(passwords).map(([u, p]) => [u, p.bcryptHash])),
        ),
        pulumi.all(tokens),
      ])
      .apply(([hashes, toks]): NtfyUser[] => [
        ...people.map((u) => ({
          name: u,
          passwordBcrypt: hashes[u]!,
          role: u === "admin" ? ("admin" as const) : ("user" as const),
          access: args.access
            .filter((a) => a.user === u)
            .map((a) => ({ topic: a.topic, permission: a.permission })),
        })),
        ...publishers.map((s) => ({
          name: `publisher-${s}`,
          passwordBcrypt: hashes[`publisher-${s}`]!,
          role: "user" as const,
          access: [{ topic: alertTopic(args.topicPrefix, s), permission: "write-only" as const }],
          token: toks[s]!,
        })),
      ]);
    const data = homelabVolume(`${name}-data`, "ntfy-data", args.server, "data", { parent: this });
    homelabContainer(
      `${name}-container`,
      {
        name: NTFY_CONTAINER,
        server: args.server,
        role: "ntfy",
        image: IMAGES.ntfy,
        command: ["serve", `--config=${NTFY_PATHS.config}`],
        env: { TZ: args.timezone },
        labels: traefikLabels({ name: "ntfy", host, port: 80, admin: false }),
        networks: [args.proxyNetwork.name],
        volumes: [{ volumeName: data.name, containerPath: NTFY_PATHS.data }],
        uploads: [
          upload(
            NTFY_PATHS.config,
            pulumi.secret(users.apply((u) => renderNtfyConfig(this.url, u))),
            "0400",
          ),
        ],
        healthcheck: {
          tests: [
            "CMD-SHELL",
            "wget -q --tries=1 -O- http://localhost:80/v1/health | grep -q true",
          ],
          // In Go's time.Duration.String() form, as the provider reads it back: "60s" would
          // read back as "1m0s" and differ on every run (test/docker-provider.test.ts).
          interval: "1m0s",
          timeout: "10s",
          retries: 3,
        },
      },
      { parent: this },
    );
    this.dataVolume = data;
    this.publishTokens = pulumi.secret(pulumi.all(tokens));
    this.passwords = pulumi.secret(
      pulumi.all(Object.fromEntries(people.map((u) => [u, passwords[u]!.result]))),
    );
    this.endpoint = {
      name: "ntfy",
      url: `${this.url}/v1/health`,
      conditions: ["[STATUS] == 200", "[BODY].healthy == true"],
    };
    this.registerOutputs({
      url: this.url,
      publishTokens: this.publishTokens,
      passwords: this.passwords,
      endpoint: this.endpoint,
    });
  }
}
