/**
 * Rules for the values a service declaration carries, whichever layer they come from: the same
 * function (and so the same message) checks a value written in `stacks/<server>.ts` and one
 * written in `Pulumi.<server>.yaml`. TypeScript types are no check: a stack file can hold any
 * string, so a subdomain that smuggles Traefik rule syntax must fail here, not in Traefik.
 */
import { NAME_RE, Problems, show } from "./checks";

/** The bounds of one retention number (`--keep-daily` and friends). */
export const RETENTION_MAX = 1000;

/**
 * A subdomain: one DNS label. The route is `Host(\`<subdomain>.<domain>\`)` and the DNS-01
 * certificate is `*.<domain>`, which covers exactly one label (RFC 6125 §6.4.3: the wildcard
 * matches the left-most label only), so dots, backquotes and anything else are refused.
 */
export function checkSubdomain(p: Problems, path: string, v: unknown): v is string {
  if (typeof v === "string" && NAME_RE.test(v)) return true;
  p.expected(
    path,
    'one DNS label (lower-case letters, digits and "-", no dots: the wildcard certificate covers one label)',
    v,
  );
  return false;
}

/**
 * A health path: an absolute URL path with an optional query, in the characters RFC 3986 allows
 * there (§3.3 `pchar`, §3.4 query), so it cannot end the URL Gatus requests or add to it.
 */
const HEALTH_PATH_RE = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?$/;
export function checkHealthPath(p: Problems, path: string, v: unknown): void {
  if (typeof v === "string" && HEALTH_PATH_RE.test(v) && v.length <= 256) return;
  p.expected(path, 'a URL path starting with "/" (RFC 3986 characters, no spaces)', v);
}

/**
 * A file a restore drill must find: `<volume>/<path>`, relative to the restored data. The
 * drill's script loops over the list unquoted (`for f in $VERIFY_FILES`, configs/backup.ts), so
 * whitespace would split a name and `*?[` would glob; `..` would look outside the snapshot.
 */
const VERIFY_SEGMENT = /^[A-Za-z0-9._@+,=-]+$/;

/** Whether `v` has the shape of a `<volume>/<path>` the scripts may loop over (see above). */
export function isVolumePath(v: unknown): v is string {
  const segments = typeof v === "string" ? v.split("/") : [];
  return (
    segments.length >= 2 && segments.every((s) => VERIFY_SEGMENT.test(s) && s !== "." && s !== "..")
  );
}

export function checkVerifyFile(
  p: Problems,
  path: string,
  v: unknown,
  dataVolumes: readonly string[],
): void {
  if (!isVolumePath(v)) {
    p.expected(
      path,
      'a relative path "<volume>/<file>" (letters, digits and ._@+,=-; no spaces, no "..", no glob characters)',
      v,
    );
    return;
  }
  if (!dataVolumes.includes(v.split("/")[0]!)) {
    p.add(
      path,
      `${show(v)} is not in a backed-up data volume: start it with one of ${dataVolumes.length ? dataVolumes.map((x) => `"${x}/"`).join(", ") : "(none)"}`,
    );
  }
}

/** One retention number: a finite integer 0-1000. */
export function checkRetentionNumber(p: Problems, path: string, v: unknown): v is number {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= RETENTION_MAX) return true;
  p.expected(path, `an integer 0-${RETENTION_MAX}`, v);
  return false;
}

/**
 * A whole retention policy. With every number 0 the job would run `restic forget` without a
 * policy, which restic refuses ("no policy was specified, no snapshots will be removed",
 * restic v0.18.0 cmd/restic/cmd_forget.go:239-246), so every night's prune would fail.
 */
export function checkRetention(
  p: Problems,
  path: string,
  r: { keepDaily: number; keepWeekly: number; keepMonthly: number },
): void {
  if (r.keepDaily === 0 && r.keepWeekly === 0 && r.keepMonthly === 0) {
    p.add(
      path,
      "keepDaily, keepWeekly and keepMonthly are all 0: restic forget refuses an empty policy; keep at least one snapshot (e.g. keepDaily: 7)",
    );
  }
}

/** A generated secret's name: a lower-case name, part of its resource's name. */
const SECRET_NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
export function checkSecretName(p: Problems, path: string, v: unknown): void {
  if (typeof v === "string" && SECRET_NAME_RE.test(v)) return;
  p.expected(path, 'a secret name (lower-case letters, digits and "-", starting with a letter)', v);
}

/**
 * An Alpine package name as `apk add` takes it. Package names are lower-case letters, digits
 * and `+-._` (Alpine wiki, APKBUILD Reference, pkgname); the script passes the list unquoted
 * to `apk add` (configs/backup.ts), so a leading "-" would be an option and anything else
 * (spaces, `;`, `$`) a second word.
 */
const PACKAGE_RE = /^[a-z0-9][a-z0-9+._-]{0,127}$/;
export function checkPackage(p: Problems, path: string, v: unknown): void {
  if (typeof v === "string" && PACKAGE_RE.test(v)) return;
  p.expected(path, "an Alpine package name (lower-case letters, digits, +-._)", v);
}
