import { defineConfig } from "vitest/config";

/**
 * `npm test`: the suites that need only Node and the npm dependencies. It installs nothing and
 * starts no daemon; the suites that need real services are `npm run test:system` and
 * `npm run test:e2e`. Under CI a skipped test fails the run (test/no-skips.ts).
 */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**", "test/system/**"],
    // Mocked Pulumi evaluations share the SDK's global state: one file at a time, in one process.
    fileParallelism: false,
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // test/no-skips.ts fails the run on any skipped test under CI only.
    reporters: ["default", "./test/no-skips.ts"],
  },
});
