import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  BootstrapParams,
  bootstrapCommand,
  parseChanged,
  renderBootstrapScript,
  scriptHash,
} from "../configs/bootstrap";

const TYPE = "homelab:index:Bootstrap";

/** What a changed login runs instead of the script: it only logs in. */
export const LOGIN_CHECK = "true";

/** What re-runs the script: the script itself, or another machine behind the address. */
export function bootstrapTriggers(scriptHash: string, host: string, port: number): string[] {
  return [scriptHash, `${host}:${port}`];
}

export interface BootstrapArgs {
  /** SSH host name or address. */
  host: string;
  /** SSH port. @default 22 */
  port?: number;
  /** SSH user of the bootstrap: root, or a user with passwordless sudo. */
  user: string;
  /** Private key (secret); absent: the provider uses the SSH agent (SSH_AUTH_SOCK). */
  privateKey?: pulumi.Input<string>;
  /** The host's SSH public key (`<type> <base64>`); absent: no key is checked. */
  hostKey?: string;
  /** What the script sets up: the deploy user, the data directory. */
  params: BootstrapParams;
}

/**
 * Makes a bare host ready for the Docker provider (configs/bootstrap.sh over SSH): Docker
 * engine installed and enabled, the deploy user in group docker, the data directories.
 * Deleting it does nothing on the host. The Docker provider of the stack depends on it, so no
 * container is touched before the host is ready.
 *
 * What runs when (pulumi-command runs `update`, or `create` when there is none, on any change
 * of its inputs, and replaces the resource, running `create` anew, when a trigger changes:
 * github:pulumi/pulumi-command provider/pkg/provider/remote/commandController.go:63-81; the SDK
 * sets replaceOnChanges on triggers, @pulumi/command remote/command.js):
 * - the script runs on the first `pulumi up`, and again when it changes (its hash) or the
 *   server is another machine (host or port): the triggers;
 * - a changed login (user, key, host key) only logs in again with `true`: it proves the new
 *   login works without re-running the script.
 */
export class Bootstrap extends pulumi.ComponentResource {
  /** sha256 of the script that ran (or will run). */
  readonly scriptHash: string;
  /** Whether the last run changed the host (from its `changed=` line). Not secret. */
  readonly changed: pulumi.Output<boolean | undefined>;

  constructor(name: string, args: BootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const script = renderBootstrapScript(args.params);
    this.scriptHash = scriptHash(script);
    const run = new command.remote.Command(
      `${name}-run`,
      {
        connection: {
          host: args.host,
          port: args.port ?? 22,
          user: args.user,
          ...(args.privateKey !== undefined ? { privateKey: args.privateKey } : {}),
          ...(args.hostKey ? { hostKey: args.hostKey } : {}),
        },
        create: bootstrapCommand(args.user),
        update: LOGIN_CHECK,
        stdin: script,
        triggers: bootstrapTriggers(this.scriptHash, args.host, args.port ?? 22),
        // Package-manager output is noise at best and may echo environment at worst: keep it
        // out of the logs, and secret in the state.
        logging: command.types.enums.remote.Logging.None,
      },
      { parent: this, additionalSecretOutputs: ["stdout", "stderr"] },
    );
    // Only the yes/no of the last line leaves the secret stdout.
    this.changed = pulumi.unsecret(run.stdout.apply(parseChanged));
    this.registerOutputs({ scriptHash: this.scriptHash, changed: this.changed });
  }
}
