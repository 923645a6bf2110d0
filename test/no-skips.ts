/**
 * A vitest reporter for CI: a skipped or todo test there is a failure, since it proves nothing.
 * Every config lists it; it acts only when `CI` is set (test/tools.ts `inCi`), listing every such
 * test and setting the exit code, after vitest's own report.
 */
import type { Reporter, TestModule } from "vitest/node";
import { inCi } from "./tools";

export default class NoSkips implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (!inCi()) return;
    const skipped: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "skipped" || state === "pending")
          skipped.push(`${m.moduleId.replace(process.cwd() + "/", "")} > ${t.fullName}`);
      }
    }
    if (skipped.length === 0) return;
    console.error(
      `\nCI: ${skipped.length} test(s) were skipped, which CI counts as failures (a skipped test proves nothing):\n` +
        skipped.map((s) => `  - ${s}`).join("\n"),
    );
    process.exitCode = 1;
  }
}
