/** The bearer token of a request, or null when it carries none. */
export function bearerToken(request: { headers: Record<string, unknown> }): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  // `<scheme> <credentials>`; the scheme is case-insensitive (RFC 9110, section 11.1).
  const [scheme, token] = header.trim().split(/\s+/);
  return scheme.toLowerCase() === 'bearer' && token ? token : null;
}
