import * as pulumi from "@pulumi/pulumi";
import { IMAGES } from "./defaults";
import { homelabContainer } from "./docker";

const TYPE = "homelab:index:Watchtower";

export interface WatchtowerArgs {
  /** Server (stack) name; also the Watchtower scope. */
  server: string;
  /** TZ of the container. */
  timezone: string;
  /** Check schedule, 6 fields (seconds first). */
  schedule: string;
  /** ntfy host, topic and publish token (secret); absent: no notifications. */
  ntfy?: { url: pulumi.Input<string>; topic: pulumi.Input<string>; token: pulumi.Input<string> };
}

/**
 * Watchtower (the maintained nickfedor fork), as the update *notifier*: it only sees
 * containers labelled for it (label-enable, own scope), and runs monitor-only, so it never
 * recreates a container Pulumi owns. Updates are applied by `pulumi up` (see README).
 */
export class Watchtower extends pulumi.ComponentResource {
  /** The Shoutrrr notification URL, when notifications are on (secret). */
  readonly notificationUrl?: pulumi.Output<string>;

  constructor(name: string, args: WatchtowerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(TYPE, name, {}, opts);
    const env: Record<string, pulumi.Input<string>> = {
      TZ: args.timezone,
      WATCHTOWER_LABEL_ENABLE: "true",
      WATCHTOWER_MONITOR_ONLY: "true",
      WATCHTOWER_SCOPE: args.server,
      WATCHTOWER_SCHEDULE: args.schedule,
      WATCHTOWER_CLEANUP: "false",
    };
    if (args.ntfy) {
      const { url, topic, token } = args.ntfy;
      const title = encodeURIComponent(`watchtower ${args.server}`);
      // Empty until the ntfy server is deployed: then Watchtower runs without notifications.
      this.notificationUrl = pulumi.secret(
        pulumi.all([url, topic, token]).apply(([u, tp, t]) => {
          if (!u) return "";
          const parsed = new URL(u);
          return `ntfy://:${t}@${parsed.host}/${tp}?scheme=${parsed.protocol.replace(":", "")}&title=${title}`;
        }),
      );
      // The URL alone turns notifications on: the fork sends to every --notification-url
      // (pkg/notifications/notifier.go NewNotifier, v1.21.0), and WATCHTOWER_NOTIFICATIONS is
      // deprecated there (internal/flags/notify/register.go: "Use --notification-url ...").
      env.WATCHTOWER_NOTIFICATION_URL = this.notificationUrl;
    }
    homelabContainer(
      `${name}-container`,
      {
        name: "watchtower",
        server: args.server,
        role: "watchtower",
        image: IMAGES.watchtower,
        env,
        // The updater is the one other holder of the socket (see guardrails).
        volumes: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" }],
      },
      { parent: this },
    );
    this.registerOutputs({ notificationUrl: this.notificationUrl });
  }
}
