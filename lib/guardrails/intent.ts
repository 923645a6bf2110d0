/**
 * What a stack means, as far as the guardrails need it and the resources cannot tell: whether
 * its status page is public on purpose, and which services are admin UIs. Read from the same
 * stack config and declaration the program uses.
 */
import type { ProgramConfig } from "../cli-config";
import type { RawConfig } from "../config";
import { loadStackConfig, rawConfigOf } from "../program";
import type { StackFile } from "../../stacks/types";
import type { StackIntent } from "./resources";

/** The intent of `stack` from its raw config (as `readRawConfig` returns it). */
export function intentOf(stack: string, raw: RawConfig, declare?: StackFile): StackIntent {
  const { config, services } = loadStackConfig(stack, raw, declare);
  return {
    gatusPublic: config.gatusPublic,
    adminServices: [
      ...services
        .filter((s) => s.http?.admin || (s.http?.groups.length ?? 0) > 0)
        .map((s) => s.name),
      // The fleet's homepage lists every URL: an admin route like the dashboards.
      ...(config.homepageServer === stack ? ["homepage"] : []),
    ],
    sso: config.sso.server !== "",
  };
}

/** The intent of `stack` from its config as Pulumi hands it over (lib/cli-config.ts). */
export function intentFromConfig(
  stack: string,
  { config, secretKeys }: ProgramConfig,
  project = "homelab",
): StackIntent {
  return intentOf(
    stack,
    rawConfigOf(project, config, (k) => secretKeys.includes(k)),
  );
}
