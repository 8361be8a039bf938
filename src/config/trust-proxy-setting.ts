import { isIP } from 'node:net';

/** TRUST_PROXY as Fastify takes it: `false`, a hop count, or a list of proxy addresses. */
export type TrustProxySetting = boolean | number | string;

export function parseTrustProxy(value: string): TrustProxySetting {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

/** proxy-addr's names for address ranges, accepted in a TRUST_PROXY list. */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * Why a TRUST_PROXY address list is unusable, or undefined when every entry
 * is an address, a CIDR range or one of proxy-addr's names. Checked at boot,
 * so a typo names the variable instead of failing inside Fastify.
 */
export function trustProxyListProblem(list: string): string | undefined {
  for (const raw of list.split(',')) {
    const entry = raw.trim();
    if (RANGE_NAMES.has(entry)) continue;
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address);
    const maxBits = family === 4 ? 32 : 128;
    const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !validBits || extra !== undefined) {
      return `TRUST_PROXY entry "${entry.slice(0, 60)}" is not an address, a CIDR range or one of loopback, linklocal, uniquelocal`;
    }
  }
  return undefined;
}
