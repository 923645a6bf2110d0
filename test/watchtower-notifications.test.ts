/**
 * Watchtower (github:nicholas-fedor/watchtower, the fork IMAGES.watchtower pins, tag v1.21.0)
 * notifies through WATCHTOWER_NOTIFICATION_URL alone:
 * - internal/config/load.go L371-383 (loadNotify): URLs come from WATCHTOWER_NOTIFICATION_URL,
 *   LegacyTypes from WATCHTOWER_NOTIFICATIONS;
 * - pkg/notifications/notifier.go L77-78 (NewNotifier): "Start from configured Shoutrrr URLs, then
 *   append any legacy type URLs"; L371-373 (appendLegacyURLs): the type "shoutrrr" is skipped, so
 *   WATCHTOWER_NOTIFICATIONS=shoutrrr adds nothing;
 * - internal/flags/notify/register.go L99-106: the `notifications` flag (WATCHTOWER_NOTIFICATIONS)
 *   is `Deprecated: "Use --notification-url with the appropriate Shoutrrr URL scheme instead."`,
 *   and docs/configuration/notifications/index.md lists it under the legacy options that "are
 *   deprecated and will be removed with the release of Watchtower v2".
 */
import { describe, expect, it } from "vitest";
import { container, envs, referenceFleet } from "./helpers";

describe("Watchtower notifications", () => {
  it("set the Shoutrrr URL only, not the deprecated WATCHTOWER_NOTIFICATIONS", async () => {
    const { evaluations } = await referenceFleet();
    for (const stack of Object.keys(evaluations)) {
      const env = envs(container(evaluations[stack]!, "watchtower")).values;
      expect(Object.keys(env), stack).not.toContain("WATCHTOWER_NOTIFICATIONS");
      expect(env.WATCHTOWER_NOTIFICATION_URL, stack).toMatch(/^ntfy:\/\//);
    }
  });
});
