import { BlockList, isIP } from 'node:net';
import type { TrustProxySetting } from '../config/trust-proxy-setting';

/** Which peers may be a reverse proxy of ours when TRUST_PROXY is a hop count. */
const PROXY_PEERS = new BlockList();
PROXY_PEERS.addSubnet('127.0.0.0', 8, 'ipv4'); // NGINX on the same host (Elastic Beanstalk)
PROXY_PEERS.addSubnet('10.0.0.0', 8, 'ipv4'); // private networks: Docker, VPC
PROXY_PEERS.addSubnet('172.16.0.0', 12, 'ipv4');
PROXY_PEERS.addSubnet('192.168.0.0', 16, 'ipv4');
PROXY_PEERS.addAddress('::1', 'ipv6');
PROXY_PEERS.addSubnet('fc00::', 7, 'ipv6');

export function isProxyPeer(address: string): boolean {
  const ipv4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  const family = isIP(ipv4);
  if (family === 0) return false;
  return PROXY_PEERS.check(ipv4, family === 4 ? 'ipv4' : 'ipv6');
}

export type TrustProxyFn = (address: string, hop: number) => boolean;

/**
 * Fastify's `trustProxy` for our TRUST_PROXY setting.
 *
 * - `false`: the socket peer is the client; X-Forwarded-For is ignored.
 * - a hop count N: the last N addresses (the socket peer, then X-Forwarded-For
 *   from the right) are our proxies and the one before them is the client,
 *   but only when the socket peer is on loopback or a private network. A client
 *   that reaches the service directly over a public address cannot spoof its
 *   address however many entries it sends. (Fastify 5.12 stopped honouring a
 *   bare hop count for exactly that reason; this keeps hop counts usable.)
 * - anything else: a comma-separated list of proxy addresses, CIDR ranges and
 *   proxy-addr's names, handed to Fastify (e.g. `loopback,10.0.0.0/8`):
 *   X-Forwarded-For is walked from the right while the address is one of
 *   them, and the first other address is the client. This is what Elastic
 *   Beanstalk ships (.ebextensions): right with and without a load balancer,
 *   since NGINX and the ALB are on loopback and in the VPC and clients are
 *   not, whereas a hop count must match the number of proxies exactly.
 */
export function fastifyTrustProxy(setting: TrustProxySetting): false | string | TrustProxyFn {
  if (setting === false) return false;
  if (setting === true) throw new Error('TRUST_PROXY=true trusts every client; use a hop count');
  if (typeof setting === 'string') return setting;
  const hops = setting;
  return (address: string, hop: number) => hop < hops && (hop > 0 || isProxyPeer(address));
}
