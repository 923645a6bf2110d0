/**
 * Defers two modules `@pulumi/pulumi` loads at start-up but uses only to serialize JavaScript
 * functions (dynamic providers, `runtime.serializeFunction`), which this program never does:
 * the TypeScript compiler (`typescript-shim.js`, for `runtime/closure/parseFunction.js`) and
 * `@npmcli/arborist` (`runtime/closure/codePaths.js`). Measured on `npm run plan`: about 0.45 s
 * of its 1.9 s. Each is loaded for real on first use, so nothing changes but when. Imported
 * first by the offline CLIs only; a real `pulumi` run loads the SDK unchanged.
 */
import Module, { createRequire } from "node:module";

const LAZY = new Set(["typescript", "@npmcli/arborist"]);
const SDK = /[\\/]node_modules[\\/]@pulumi[\\/]pulumi[\\/]/;

type Load = (
  request: string,
  parent: { filename?: string } | undefined,
  isMain: boolean,
) => unknown;
const loader = Module as unknown as { _load: Load };
const load = loader._load;

loader._load = function (request, parent, isMain) {
  if (!LAZY.has(request) || !SDK.test(parent?.filename ?? "")) return load(request, parent, isMain);
  // A module that is not installed still fails here, at require time, so the SDK's own
  // fallback runs (typescript-shim.js loads its vendored compiler when `typescript` is absent).
  createRequire(parent!.filename!).resolve(request);
  let real: Record<string | symbol, unknown> | undefined;
  const get = () => (real ??= load(request, parent, isMain) as Record<string | symbol, unknown>);
  // `__esModule` keeps TypeScript's `__importStar` from copying (and so loading) the module.
  return new Proxy(
    {},
    {
      get: (_t, key) => (key === "__esModule" ? true : get()[key]),
      has: (_t, key) => key in get(),
      ownKeys: () => Reflect.ownKeys(get()),
      getOwnPropertyDescriptor: (_t, key) => {
        const d = Reflect.getOwnPropertyDescriptor(get(), key);
        // A proxy may only report configurable properties its (empty) target does not have.
        return d && { ...d, configurable: true };
      },
    },
  );
};
