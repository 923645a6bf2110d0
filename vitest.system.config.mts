import { defineConfig } from "vitest/config";

/**
 * `npm run test:system`: suites that need real system services on this machine (an sshd and a
 * Docker engine they start themselves, root or sudo). The npm script installs their Debian
 * packages first (scripts/ensure-tools.sh --system), saying what it installs.
 */
export default defineConfig({
  test: {
    include: ["test/system/**/*.test.ts"],
    fileParallelism: false,
    pool: "forks",
    testTimeout: 240_000,
    hookTimeout: 300_000,
    // test/no-skips.ts fails the run on any skipped test under CI only.
    reporters: ["verbose", "./test/no-skips.ts"],
  },
});
