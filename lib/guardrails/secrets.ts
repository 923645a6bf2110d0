/**
 * No secret in plain text. A value Pulumi holds as a secret (a generated password, token, key,
 * bcrypt hash, or a file that contains one) must not show up in any input or output that is not
 * a secret: not in an env value, a label, a rendered file or a stack output. Checked by value,
 * plus a name check for env variables that look like credentials.
 */
import { Secret } from "../../cli/evaluate";
import type { Evaluation } from "../../cli/evaluate";
import type { RegisteredResource } from "../../cli/evaluate";
import { Finding, Guardrail, describeResource, finding, reveal } from "./resources";

interface Leaf {
  path: string;
  value: string;
  secret: boolean;
}

/** Every string in `v` with its path and whether it sits under a `Secret`. */
export function leaves(v: unknown, path = "", secret = false): Leaf[] {
  if (v instanceof Secret) return leaves(v.value, path, true);
  if (typeof v === "string") return [{ path, value: v, secret }];
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, `${path}[${i}]`, secret));
  if (v && typeof v === "object")
    return Object.entries(v).flatMap(([k, x]) => leaves(x, path ? `${path}.${k}` : k, secret));
  return [];
}

/** A path as a reader knows it: `env DB_PASSWORD`, `upload /run/x`, `label a.b`. */
export function readable(r: RegisteredResource, path: string): string {
  const i = reveal(r.inputs) as Record<string, unknown>;
  const at = (list: unknown, n: string) => (Array.isArray(list) ? list[Number(n)] : undefined);
  const upload = /^inputs\.uploads\[(\d+)\]/.exec(path);
  if (upload) return `upload ${String((at(i.uploads, upload[1]!) as { file?: string })?.file)}`;
  const env = /^inputs\.envs\[(\d+)\]$/.exec(path);
  if (env) return `env ${String(at(i.envs, env[1]!)).split("=")[0]}`;
  const label = /^inputs\.labels\[(\d+)\]\.value$/.exec(path);
  if (label) return `label ${String((at(i.labels, label[1]!) as { label?: string })?.label)}`;
  return path;
}

/**
 * The shortest value searched for as a secret by itself: 8 characters, the least NIST SP
 * 800-63B §5.1.1.1 lets a verifier accept for a secret a person chooses (and so the least a
 * DNS token or SMTP password may be); a shorter "secret" is guessable, and would match
 * ordinary words. Every generated secret here is far longer (32-character passwords, 29 after
 * `tk_` for ntfy tokens, 60-character bcrypt hashes).
 */
export const MIN_SECRET_LENGTH = 8;

/**
 * The secret values of an evaluation, each with where it is held as a secret:
 * - a secret that is one value by itself (a secret env value after its `=`, a secret output
 *   or input that is one word), from MIN_SECRET_LENGTH characters: found wherever it is
 *   repeated, whatever its alphabet;
 * - inside longer secret text (a file, "admin / <password>"), the high-entropy runs (16+
 *   letters and digits, both present): a file's ordinary words are not secrets.
 */
export function secretValues(e: Evaluation): Map<string, string> {
  const out = new Map<string, string>();
  const collect = (l: Leaf, where: () => string) => {
    if (!l.secret) return;
    // Only where a secret is one value by itself: Pulumi marks whole objects and lists secret
    // too (a connection with its key, an upload list), whose other members are no secrets.
    const env = /^inputs\.envs\[\d+\]$/.test(l.path);
    const value = env || /^inputs\.uploads\[\d+\]\.content$|^outputs\./.test(l.path);
    const whole = (env ? l.value.slice(l.value.indexOf("=") + 1) : l.value).trim();
    if (value && whole.length >= MIN_SECRET_LENGTH && !/\s/.test(whole) && !out.has(whole))
      out.set(whole, where());
    for (const [run] of l.value.matchAll(/[A-Za-z0-9]{16,}/g))
      if (/[0-9]/.test(run) && /[A-Za-z]/.test(run) && !out.has(run)) out.set(run, where());
  };
  for (const r of e.resources)
    for (const l of leaves(r.inputs, "inputs"))
      collect(l, () => `${describeResource(r)} ${readable(r, l.path)}`);
  for (const l of leaves(e.outputs, "outputs")) collect(l, () => l.path);
  return out;
}

const CREDENTIAL_NAME = /PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|PRIVATE_KEY/i;

/**
 * Secret values never appear outside a secret (messages name where the value is secret, never
 * the value); no secret goes into a Docker label; credential-named envs are secret.
 */
export const noPlaintextSecret: Guardrail = (e) => {
  const secrets = [...secretValues(e)];
  const leak = (l: Leaf) => (l.secret ? undefined : secrets.find(([s]) => l.value.includes(s)));
  const out: Finding[] = [];
  for (const r of e.resources) {
    const bad = (msg: string) => out.push(finding("no-plaintext-secret", e, r, msg));
    const all = leaves(r.inputs, "inputs");
    // Files whose content is secret: `X_FILE=<one of them>` hands a secret over as a file (the
    // convention of Authelia, Postgres and others), it is not the secret itself.
    const secretFiles = new Set(
      all
        .filter((l) => /^inputs\.uploads\[\d+\]\.file$/.test(l.path))
        .filter((f) =>
          all.some((l) => l.secret && l.path === f.path.replace(/\.file$/, ".content")),
        )
        .map((f) => f.value),
    );
    const secretFileRef = (env: string, value: string) =>
      env.endsWith("_FILE") && secretFiles.has(value.slice(env.length + 1));
    for (const l of all) {
      const s = leak(l);
      const env = /^inputs\.envs\[\d+\]$/.test(l.path) ? l.value.split("=")[0]! : undefined;
      if (s)
        bad(
          `${readable(r, l.path)} holds in plain text a value that is secret in ${s[1]}: pass it as a secret Output (pulumi.secret), never as text`,
        );
      else if (l.secret && l.path.startsWith("inputs.labels"))
        bad(
          `${readable(r, l.path)} puts a secret into a Docker label, readable by anyone who can inspect the container: move it to an env value or a secret file`,
        );
      else if (
        env &&
        !l.secret &&
        CREDENTIAL_NAME.test(env) &&
        l.value !== `${env}=` &&
        !secretFileRef(env, l.value)
      )
        bad(
          `env ${env} looks like a credential but is plain text: declare it in secrets and use { secret: "<name>" }, or set it with pulumi config set --secret`,
        );
    }
  }
  for (const l of leaves(e.outputs, "outputs")) {
    const s = leak(l);
    if (s)
      out.push(
        finding(
          "no-plaintext-secret",
          e,
          `output ${l.path.split(/[.[]/)[1]}`,
          `${l.path} holds in plain text a value that is secret in ${s[1]}: wrap the output in pulumi.secret`,
        ),
      );
  }
  return out;
};
