import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { parse } from 'yaml';
import { trustProxyListProblem } from '../config/trust-proxy-setting';
import { fastifyTrustProxy, isProxyPeer } from './trust-proxy';

/** TRUST_PROXY as the Elastic Beanstalk bundle ships it (.ebextensions), read as configuration reads it. */
function shippedEbSetting(): string | number {
  const config = parse(
    readFileSync(join(__dirname, '..', '..', '.ebextensions', '01-environment.config'), 'utf8'),
  ) as { option_settings: Record<string, Record<string, string>> };
  const value = config.option_settings['aws:elasticbeanstalk:application:environment'].TRUST_PROXY;
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** The client address Fastify derives for a request from `peer` carrying `xff`. */
async function clientIp(
  setting: boolean | number | string,
  peer: string,
  xff?: string,
): Promise<string> {
  const app = Fastify({ trustProxy: fastifyTrustProxy(setting) });
  app.get('/', (request) => ({ ip: request.ip }));
  const response = await app.inject({
    url: '/',
    remoteAddress: peer,
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  });
  await app.close();
  return response.json<{ ip: string }>().ip;
}

describe('fastifyTrustProxy', () => {
  it('ignores X-Forwarded-For when proxies are not trusted', async () => {
    expect(await clientIp(false, '127.0.0.1', '198.51.100.7')).toBe('127.0.0.1');
  });

  it('takes the address NGINX appended when one hop is trusted', async () => {
    expect(await clientIp(1, '127.0.0.1', '198.51.100.7')).toBe('198.51.100.7');
  });

  it('ignores entries a client prepended to spoof its address', async () => {
    expect(await clientIp(1, '127.0.0.1', '6.6.6.6, 198.51.100.7')).toBe('198.51.100.7');
    expect(await clientIp(2, '127.0.0.1', '6.6.6.6, 198.51.100.7, 10.0.3.4')).toBe('198.51.100.7');
  });

  it('never trusts a public socket peer, whatever the hop count', async () => {
    expect(await clientIp(2, '203.0.113.50', '6.6.6.6, 7.7.7.7')).toBe('203.0.113.50');
  });

  it('trusts a proxy on a private network (docker compose)', async () => {
    expect(await clientIp(1, '172.18.0.3', '198.51.100.7')).toBe('198.51.100.7');
  });

  it('passes an address list through to proxy-addr', async () => {
    expect(await clientIp('10.0.0.0/8', '10.1.2.3', '198.51.100.7')).toBe('198.51.100.7');
    expect(await clientIp('10.0.0.0/8', '127.0.0.1', '198.51.100.7')).toBe('127.0.0.1');
  });

  it('refuses to trust everyone', () => {
    expect(() => fastifyTrustProxy(true)).toThrow(/hop count/);
  });
});

describe('the Elastic Beanstalk setting (.ebextensions)', () => {
  // NGINX appends the address it received the request from; an ALB appends the client's.
  const SPOOFED = '6.6.6.6';
  const CLIENT = '198.51.100.7';

  it('finds the client on a single-instance environment (client -> NGINX -> Node), whatever it sent', async () => {
    expect(await clientIp(shippedEbSetting(), '127.0.0.1', `${SPOOFED}, ${CLIENT}`)).toBe(CLIENT);
    expect(await clientIp(shippedEbSetting(), '127.0.0.1', CLIENT)).toBe(CLIENT);
  });

  it('finds the client on a load-balanced environment (client -> ALB -> NGINX -> Node)', async () => {
    for (const alb of ['172.31.40.12', '10.0.3.4']) {
      expect(await clientIp(shippedEbSetting(), '127.0.0.1', `${SPOOFED}, ${CLIENT}, ${alb}`)).toBe(
        CLIENT,
      );
    }
  });

  it('never believes a peer outside the trusted ranges', async () => {
    expect(await clientIp(shippedEbSetting(), '203.0.113.50', `${SPOOFED}, ${CLIENT}`)).toBe(
      '203.0.113.50',
    );
  });

  it('is a valid address list', () => {
    expect(trustProxyListProblem(String(shippedEbSetting()))).toBeUndefined();
  });
});

describe('trustProxyListProblem', () => {
  it.each(['loopback', 'loopback,10.0.0.0/8', '127.0.0.1, ::1', 'uniquelocal,fd00::/8'])(
    'accepts %j',
    (list) => {
      expect(trustProxyListProblem(list)).toBeUndefined();
    },
  );

  it.each(['loopbak', '10.0.0.0/33', '10.0.0/8', '10.0.0.0/8/1', '::1/129', 'vpc'])(
    'refuses %j, naming TRUST_PROXY',
    (list) => {
      expect(trustProxyListProblem(list)).toMatch(/^TRUST_PROXY entry/);
    },
  );
});

describe('isProxyPeer', () => {
  it.each([
    ['127.0.0.1', true],
    ['::ffff:127.0.0.1', true],
    ['::1', true],
    ['10.20.30.40', true],
    ['172.31.255.1', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['198.51.100.7', false],
    ['fd00::1', true],
    ['2001:db8::1', false],
    ['not-an-ip', false],
  ])('%s -> %s', (address, expected) => {
    expect(isProxyPeer(address)).toBe(expected);
  });
});
