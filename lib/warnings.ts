/**
 * Warnings of one evaluation (a missing peer, a peer output that is absent): logged through
 * Pulumi and kept, so `npm run plan` can list them per stack.
 */
import * as pulumi from "@pulumi/pulumi";

const seen: string[] = [];

/** Logs a warning once per evaluation. */
export function warn(message: string): void {
  if (seen.includes(message)) return;
  seen.push(message);
  pulumi.log.warn(message);
}

/** Warnings so far, and forget them (the next evaluation starts clean). */
export function takeWarnings(): string[] {
  return seen.splice(0, seen.length);
}
