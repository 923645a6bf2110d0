// The pack's entry. The Node.js language host starts a policy pack with the SDK's
// `@pulumi/pulumi/cmd/run-policy-pack`, which always registers the SDK's vendored ts-node
// (cmd/run-policy-pack/index.js: `typeScript: !process.versions.bun`) and ignores the project's
// `nodeargs`. The pack shares the program's TypeScript, which Pulumi.yaml loads with tsx (ts-node
// with TypeScript 6 fails, see Pulumi.yaml): a JavaScript entry, untouched by ts-node, loads it
// the same way.
"use strict";
const { require: tsxRequire } = require("tsx/cjs/api");
tsxRequire("./pack.ts", __filename);
