/**
 * What a stack means, as far as the guardrails need it and the resources cannot tell: whether
 * its status page is public on purpose, and which services are admin UIs. Read from the same
 * stack config and declaration the program uses.
 */
import { RawConfig, SECRET_KEYS } from "../config";
import { loadStackConfig } from "../program";
import type { StackFile } from "../../stacks/types";
import type { StackIntent } from "./resources";

/** The intent of `stack` from its raw config (as `readRawConfig` returns it). */
export function intentOf(stack: string, raw: RawConfig, declare?: StackFile): StackIntent {
  const { config, services } = loadStackConfig(stack, raw, declare);
  return {
    gatusPublic: config.gatusPublic,
    adminServices: services.filter((s) => s.http?.admin).map((s) => s.name),
  };
}

/**
 * The intent of `stack` from its config as Pulumi hands it over (`<project>:<key>` → text, as
 * `planConfig` or `readStackConfigFile` return it); a set secret key counts as set.
 */
export function intentFromConfig(
  stack: string,
  config: Record<string, string>,
  project = "homelab",
): StackIntent {
  const values: Record<string, unknown> = {};
  const secretsPresent: string[] = [];
  for (const [full, value] of Object.entries(config)) {
    if (!full.startsWith(`${project}:`)) continue;
    const key = full.slice(project.length + 1);
    if ((SECRET_KEYS as string[]).includes(key)) secretsPresent.push(key);
    else values[key] = value;
  }
  return intentOf(stack, { values, secretsPresent });
}
