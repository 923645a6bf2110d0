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

export interface BootstrapArgs {
  /** SSH host name or address. */
  host: string;
  /** SSH port. @default 22 */
  port?: number;
  /** SSH user of the bootstrap: root, or a user with passwordless sudo. */
  user: string;
  /** Private key (secret); absent: the provider uses the SSH agent (SSH_AUTH_SOCK). */
  privateKey?: pulumi.Input<string>;
  /** What the script sets up: the deploy user, the data directory. */
  params: BootstrapParams;
}

/**
 * Makes a bare host ready for the Docker provider (configs/bootstrap.sh over SSH): Docker
 * engine installed and enabled, the deploy user in group docker, the data directories.
 * It runs on the first `pulumi up` and again only when the rendered script changes (its hash
 * is the trigger). Deleting it does nothing on the host. The Docker provider of the stack
 * depends on it, so no container is touched before the host is ready.
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
        },
        create: bootstrapCommand(args.user),
        stdin: script,
        // The SDK adds replaceOnChanges on triggers: a new script is a new run, never an update.
        triggers: [this.scriptHash],
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
