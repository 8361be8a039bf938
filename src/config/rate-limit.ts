import { durationToSeconds } from './duration';

/** A limit of `limit` events per `windowMs`, or null when the limit is switched off. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** What RATE_LIMIT_* and LOGIN_LOCKOUT accept: `off`, or `<count>/<duration>` such as `10/15m`. */
export const RATE_LIMIT_PATTERN = /^(off|[1-9]\d{0,8}\/[1-9]\d*[smhd]?)$/;

/** `30/1m` → 30 per 60 000 ms; `off` → null. */
export function parseRateLimit(value: string): RateLimit | null {
  if (value === 'off') return null;
  if (!RATE_LIMIT_PATTERN.test(value)) throw new Error(`Invalid rate limit: ${value}`);
  const [count, window] = value.split('/');
  return { limit: Number(count), windowMs: durationToSeconds(window) * 1000 };
}
