/**
 * Whether a `Prefer` header (RFC 7240) asks for `respond-async`. Preferences
 * are comma-separated, each with optional `;` parameters; names are
 * case-insensitive, and repeated headers arrive joined or as an array.
 */
export function prefersRespondAsync(header: string | string[] | undefined): boolean {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values
    .flatMap((value) => value.split(','))
    .some((preference) => preference.split(';')[0].trim().toLowerCase() === 'respond-async');
}
