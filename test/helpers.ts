/**
 * Test helpers: evaluate the real program under mocks (cli/evaluate.ts records every resource,
 * its provider and options), the reference fleet with stack references settled, and lookups.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  Evaluation,
  PeerOutputs,
  RegisteredResource,
  Secret,
  evaluateStack,
  reveal,
} from "../cli/evaluate";
import { assumedSecret, evaluateFleet } from "../cli/fleet";
import { ConfigOptions, ProgramConfig, programConfigFor } from "../lib/cli-config";

export const ROOT = join(__dirname, "..");
export const STACK_NAMES = ["home", "cloud", "offsite"] as const;

export const T = {
  container: "docker:index/container:Container",
  volume: "docker:index/volume:Volume",
  network: "docker:index/network:Network",
  image: "docker:index/remoteImage:RemoteImage",
  provider: "pulumi:providers:docker",
  password: "random:index/randomPassword:RandomPassword",
  bytes: "random:index/randomBytes:RandomBytes",
  stackRef: "pulumi:pulumi:StackReference",
  server: "homelab:index:Server",
  service: "homelab:index:Service",
  traefik: "homelab:index:Traefik",
  gatus: "homelab:index:Gatus",
  ntfy: "homelab:index:Ntfy",
  syncthing: "homelab:index:Syncthing",
  watchtower: "homelab:index:Watchtower",
  backup: "homelab:index:ResticBackup",
  replicas: "homelab:index:BackupReplicas",
} as const;

/**
 * The secrets the header of `Pulumi.<stack>.yaml` tells its user to set (`pulumi config set
 * --secret <key> …` lines), each with a placeholder value.
 */
export function headerSecrets(stack: string, root = ROOT): Record<string, string> {
  const text = readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8");
  const header = text.slice(0, text.search(/^config:/m));
  const keys = [...header.matchAll(/pulumi config set --secret (\w+)/g)].map((m) => m[1]!);
  return Object.fromEntries(keys.map((k) => [k, assumedSecret(k)]));
}

/**
 * The config the CLI hands the program for the stack's real Pulumi.<stack>.yaml, after its
 * user set the secrets its header names and `overrides` (`pulumi config set`; undefined removes).
 */
export function referenceConfig(
  stack: string,
  overrides: Record<string, unknown> = {},
  opts: ConfigOptions = {},
): ProgramConfig {
  return programConfigFor(ROOT, stack, { secrets: headerSecrets(stack), values: overrides }, opts);
}

/** Evaluates one reference stack, optionally with config overrides and peers' outputs. */
export async function evaluateReference(
  stack: string,
  opts: { overrides?: Record<string, unknown>; peers?: PeerOutputs } = {},
): Promise<Evaluation> {
  return evaluateStack(stack, referenceConfig(stack, opts.overrides), { peers: opts.peers });
}

let fleet: Promise<{ evaluations: Record<string, Evaluation>; rounds: number }> | undefined;

/**
 * All three reference stacks, each fed the others' outputs, re-evaluated until the outputs
 * stop changing (the way a fleet converges after a second `pulumi up` round).
 */
export function referenceFleet() {
  fleet ??= evaluateFleet({
    stacks: STACK_NAMES,
    known: STACK_NAMES,
    evaluate: (s, peers) => evaluateReference(s, { peers }),
    maxRounds: 5,
  }).then(({ evaluations, rounds }) => ({ evaluations, rounds }));
  return fleet;
}

export function ofType(e: Evaluation, type: string): RegisteredResource[] {
  return e.resources.filter((r) => r.type === type);
}

/** The resource of `type` named `name`; fails loudly if absent. */
export function one(e: Evaluation, type: string, name: string): RegisteredResource {
  const r = e.resources.find((x) => x.type === type && x.name === name);
  if (!r) {
    const names = ofType(e, type).map((x) => x.name);
    throw new Error(`no ${type} named ${name} in ${e.stack}; have: ${names.join(", ")}`);
  }
  return r;
}

/** The container whose Docker name is `name`. */
export function container(e: Evaluation, name: string): RegisteredResource {
  const r = ofType(e, T.container).find((c) => c.inputs.name === name);
  if (!r) throw new Error(`no container ${name} in ${e.stack}`);
  return r;
}

/** Labels of a container as a map (values revealed). */
export function labels(c: RegisteredResource): Record<string, string> {
  const list = reveal(c.inputs.labels) as { label: string; value: string }[];
  return Object.fromEntries(list.map((l) => [l.label, l.value]));
}

/**
 * Envs of a container as a map (values revealed), whether any reached Docker as a secret, and
 * which ones did (cli/evaluate.ts keeps each element's secretness, as the engine receives it).
 */
export function envs(c: RegisteredResource): {
  values: Record<string, string>;
  secret: boolean;
  secretNames: string[];
} {
  const raw = c.inputs.envs;
  const whole = raw instanceof Secret;
  const items = ((whole ? raw.value : raw) ?? []) as unknown[];
  const values: Record<string, string> = {};
  const secretNames: string[] = [];
  for (const item of items) {
    const text = String(reveal(item));
    const i = text.indexOf("=");
    values[text.slice(0, i)] = text.slice(i + 1);
    if (whole || item instanceof Secret) secretNames.push(text.slice(0, i));
  }
  return { values, secret: secretNames.length > 0, secretNames };
}

/** An uploaded file's content (revealed), its mode, and whether it reached Docker as a secret. */
export function uploadOf(
  c: RegisteredResource,
  file: string,
): { content: string; secret: boolean; permissions?: string } {
  const uploads = c.inputs.uploads;
  const whole = uploads instanceof Secret;
  const list = ((whole ? uploads.value : uploads) ?? []) as unknown[];
  for (const item of list) {
    const itemSecret = item instanceof Secret;
    const u = (itemSecret ? item.value : item) as Record<string, unknown>;
    if (reveal(u.file) !== file) continue;
    return {
      content: String(reveal(u.content)),
      secret: whole || itemSecret || u.content instanceof Secret,
      permissions: reveal(u.permissions) as string | undefined,
    };
  }
  const files = list.map((x) => String((reveal(x) as Record<string, unknown>).file));
  throw new Error(`no upload ${file} in ${String(c.inputs.name)}; have ${files.join(", ")}`);
}

export { reveal };
