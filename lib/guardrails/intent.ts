/**
 * What a stack means, as far as the guardrails need it and the resources cannot tell: whether
 * its status page is public on purpose, and which services are admin UIs. Read from the same
 * stack config and declaration the program uses.
 */
import type { RawConfig } from "../config";
import { loadStackConfig } from "../program";
import type { StackIntent } from "./resources";

/** The intent of `stack` from its raw config (as `readRawConfig` returns it). */
export function intentOf(stack: string, raw: RawConfig): StackIntent {
  const { config, services } = loadStackConfig(stack, raw);
  return {
    gatusPublic: config.gatusPublic,
    adminServices: services.filter((s) => s.http?.admin).map((s) => s.name),
  };
}
