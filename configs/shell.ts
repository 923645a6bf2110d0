/** Single-quotes a value for POSIX sh (every generated script uses this one quoting). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
