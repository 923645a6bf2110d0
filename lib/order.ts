/**
 * Locale-independent ordering, so that sorted labels, envs and config files are the same bytes
 * on every machine (String.prototype.localeCompare depends on the ICU locale).
 */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Sorts `[key, value]` entries by key. */
export function byKey<T>(a: [string, T], b: [string, T]): number {
  return byText(a[0], b[0]);
}
