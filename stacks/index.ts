/**
 * The servers written in TypeScript: every `stacks/<name>.ts` of this folder (but this file and
 * types.ts), found when the program runs, so there is no list to forget. A server with a
 * `Pulumi.<name>.yaml` and no file here is its stack file alone (lib/program.ts): the standard
 * components, its peers' replicas, and the services its stack file declares.
 *
 * Loaded with the running process' own `require`: under Pulumi (Pulumi.yaml `nodeargs: --import
 * tsx`) and `npm run plan` that is tsx's CommonJS hook, which `--import tsx` registers too (tsx
 * 4.23.15 dist/loader.mjs starts with `import"#cjs-loader"`, package.json `imports`:
 * ./dist/cjs/index.cjs); under the SDK's ts-node (`typescript: true`) ts-node's; under vitest
 * the test runner's. test/engine.test.ts runs a server found this way through Pulumi's own entry point.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../lib/config";
import type { StackFile } from "./types";

/** Files of this folder that are not servers. */
const NOT_SERVERS = new Set(["index", "types"]);

/** The servers with a `stacks/<name>.ts`, sorted. */
export function stackFileNames(dir = __dirname): string[] {
  return readdirSync(dir)
    .flatMap((f) => {
      const m = /^([a-z0-9][a-z0-9-]*)\.ts$/.exec(f);
      return m && !NOT_SERVERS.has(m[1]!) && !f.endsWith(".d.ts") ? [m[1]!] : [];
    })
    .sort();
}

/**
 * The default export of `stacks/<stack>.ts`, or undefined when there is no such file. Only a
 * name found in the folder is loaded, so a stack name never becomes a path.
 */
export function stackFile(stack: string, dir = __dirname): StackFile | undefined {
  if (!stackFileNames(dir).includes(stack)) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(join(dir, `${stack}.ts`)) as { default?: unknown };
  if (typeof mod.default !== "function") {
    throw new ConfigError(stack, [
      `stack: stacks/${stack}.ts: expected a default export (ctx) => ServerDeclaration (see stacks/types.ts), got ${typeof mod.default}; export default function ${stack.replace(/-./g, (x) => x[1]!.toUpperCase())}(ctx: StackContext): ServerDeclaration { … }`,
    ]);
  }
  return mod.default as StackFile;
}
