/**
 * Cost of one HS256 verification (signature, alg, iss, aud, exp) by each way
 * we considered, on a token shaped like the service's. This is why the
 * baseline checks tokens with node:crypto directly, and why the service
 * hands jsonwebtoken a KeyObject. Prints one JSON line.
 *
 *   node dist-tools/bench/jwt-verify.js [--iterations 50000]
 */
import { createHmac, createSecretKey, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createVerifier } from 'fast-jwt';
import jwt from 'jsonwebtoken';

const { values: args } = parseArgs({
  options: { iterations: { type: 'string', default: '50000' } },
});
const ITERATIONS = Number(args.iterations);
const ISSUER = 'org-management-service';
const AUDIENCE = 'org-management-api';

const secret = randomBytes(48).toString('hex');
const key = createSecretKey(Buffer.from(secret));
const token = jwt.sign(
  { sub: '665f1c2b9d3e4a0012345679', org_id: '665f1c2b9d3e4a0012345678', ver: 0 },
  key,
  {
    algorithm: 'HS256',
    issuer: ISSUER,
    audience: AUDIENCE,
    expiresIn: 1800,
    jwtid: randomUUID(),
  },
);
const options: jwt.VerifyOptions = { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE };
const fastJwt = createVerifier({
  key: secret,
  algorithms: ['HS256'],
  allowedIss: ISSUER,
  allowedAud: AUDIENCE,
  cache: false,
});

/** What baseline/server.ts does (its header fast path included). */
function hmacVerify(t: string): unknown {
  const dot1 = t.indexOf('.');
  const dot2 = t.indexOf('.', dot1 + 1);
  const header = JSON.parse(Buffer.from(t.slice(0, dot1), 'base64url').toString('utf8')) as {
    alg?: unknown;
  };
  if (header.alg !== 'HS256') throw new Error('alg');
  const signature = Buffer.from(t.slice(dot2 + 1), 'base64url');
  const expected = createHmac('sha256', key).update(t.slice(0, dot2)).digest();
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected))
    throw new Error('signature');
  const claims = JSON.parse(Buffer.from(t.slice(dot1 + 1, dot2), 'base64url').toString('utf8')) as {
    iss?: unknown;
    aud?: unknown;
    exp?: unknown;
  };
  if (
    claims.iss !== ISSUER ||
    claims.aud !== AUDIENCE ||
    typeof claims.exp !== 'number' ||
    !(claims.exp > Date.now() / 1000)
  )
    throw new Error('claims');
  return claims;
}

const candidates: Record<string, () => unknown> = {
  'jsonwebtoken, string secret': () => jwt.verify(token, secret, options),
  'jsonwebtoken, KeyObject (the service)': () => jwt.verify(token, key, options),
  'fast-jwt, no cache': (): unknown => fastJwt(token),
  'node:crypto HMAC (the baseline)': () => hmacVerify(token),
};

function timePerCall(fn: () => unknown, iterations: number): number {
  for (let i = 0; i < Math.min(2000, iterations); i++) fn();
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - started) / iterations / 1000;
}

const result: Record<string, number> = {};
for (const [name, fn] of Object.entries(candidates)) {
  // The string-secret path is ~50x slower; fewer calls give the same precision.
  const iterations = name.includes('string') ? Math.ceil(ITERATIONS / 50) : ITERATIONS;
  result[name] = timePerCall(fn, iterations);
}
console.log(JSON.stringify({ microsecondsPerVerify: result }));
