import { defineConfig } from "vitest/config";

/**
 * The end-to-end suite (test/e2e): real Docker engines over SSH, real restic and Syncthing.
 * Needs root; the global setup installs the tools and builds the lab, and tears it down.
 */
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    // One lab, one scenario at a time, in order.
    fileParallelism: false,
    sequence: { concurrent: false },
    pool: "forks",
    testTimeout: 240_000,
    hookTimeout: 300_000,
    // test/no-skips.ts fails the run on any skipped test under CI only.
    reporters: ["verbose", "./test/no-skips.ts"],
  },
});
