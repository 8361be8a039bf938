/**
 * The yardstick: the benchmarked endpoints of the service written as directly
 * as we know how, with plain Fastify, the official `mongodb` driver and
 * node:crypto HMAC for the JWT. Per request it does the same work as the
 * service: the same queries with the same filters and projections, the same
 * token checks (signature, alg, iss, aud, exp/nbf, claim types, admin and
 * organization still there, not revoked by a logout, credentials version),
 * the login lock-out's writes, the same validation and query-string and JSON
 * hardening, one log line, the same headers and byte-identical response
 * bodies (the benchmark compares them before measuring).
 *
 * Everything a framework would add is left out, and Fastify gets response
 * schemas so it serializes with fast-json-stringify. Only the endpoints the
 * benchmark drives exist here.
 */
import { isUtf8 } from 'node:buffer';
import {
  createHash,
  createHmac,
  createSecretKey,
  hash,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcrypt';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { MongoClient, ObjectId } from 'mongodb';
import pino from 'pino';
import isEmail from 'validator/lib/isEmail';
import { PROJECT_ROOT } from '../../lib/service';

const env = process.env;
const PORT = Number(env.PORT ?? 8100);
const MASTER_DB = env.MASTER_DB_NAME ?? 'master_db';
const SECRET = env.JWT_SECRET ?? '';
const MONGODB_URI = env.MONGODB_URI ?? '';
const BCRYPT_COST = Number(env.BCRYPT_COST ?? 12);
const EXPIRES_IN = Number(env.JWT_EXPIRES_IN_SECONDS ?? 1800);
const ISSUER = 'org-management-service';
const AUDIENCE = 'org-management-api';
if (!MONGODB_URI || !SECRET) {
  console.error('MONGODB_URI and JWT_SECRET are required');
  process.exit(1);
}

const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};
const BANNER = { status: 'ok', service: pkg.name, version: pkg.version };

const KEY = createSecretKey(Buffer.from(SECRET));
// Every token we accept was signed with this exact header by jsonwebtoken.
const JWT_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

const log = pino({
  level: env.LOG_LEVEL ?? 'info',
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
});

const ORG_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _-]*$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const ADMIN_PROJECTION = { email: 1, organization_id: 1, role: 1, credentials_version: 1 };
// LOGIN_LOCKOUT's default, 10 attempts per 15 minutes.
const LOCKOUT = { limit: 10, windowMs: 15 * 60_000 };
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
// The service's security headers (Nest's useSecurityHeaders with its CSP), set on every answer;
// HSTS only on answers to requests that came over TLS, as the service does.
const STRICT_TRANSPORT_SECURITY = 'max-age=31536000; includeSubDomains';
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};
const LOGIN_PROJECTION = { ...ADMIN_PROJECTION, password_hash: 1 };

const TITLES: Record<string, string> = {
  VALIDATION_FAILED: 'Validation failed',
  MALFORMED_REQUEST: 'Malformed request',
  UNAUTHORIZED: 'Authentication required',
  INVALID_CREDENTIALS: 'Invalid credentials',
  NOT_FOUND: 'Not found',
  ORG_NOT_FOUND: 'Organization not found',
  SERVICE_UNAVAILABLE: 'Service unavailable',
  INTERNAL_ERROR: 'Internal server error',
  TOO_MANY_REQUESTS: 'Too many requests',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported media type',
};

interface FieldError {
  field: string;
  message: string;
}

class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

/** An organization's master record, the fields read here. */
interface OrganizationRecord {
  _id: ObjectId;
  name: string;
  slug: string;
  database_name: string;
  cluster?: string | null;
  pending: { type: string } | null;
  created_at: Date;
  updated_at: Date;
}

interface AdminRecord {
  _id: ObjectId;
  email: string;
  organization_id: ObjectId;
  role: string;
  credentials_version: number;
  password_hash?: string;
}

interface Claims {
  sub?: unknown;
  org_id?: unknown;
  ver?: unknown;
  jti?: unknown;
  iat?: unknown;
  exp?: unknown;
  nbf?: unknown;
  aud?: unknown;
  iss?: unknown;
}

const unauthorized = (detail = 'A valid bearer token is required.') =>
  new Problem(401, 'UNAUTHORIZED', detail);
const invalidCredentials = () =>
  new Problem(401, 'INVALID_CREDENTIALS', 'The email or password is incorrect.');
const invalid = (errors: FieldError[]) =>
  new Problem(
    400,
    'VALIDATION_FAILED',
    errors.length === 1 ? errors[0].message : `${errors.length} fields are invalid.`,
    errors,
  );

function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let problem = error instanceof Problem ? error : undefined;
  const fastifyError = error as { code?: unknown; statusCode?: number; message?: string } | null;
  if (!problem && typeof fastifyError?.code === 'string' && fastifyError.code.startsWith('FST_')) {
    const status = fastifyError.statusCode ?? 400;
    const code =
      status === 413
        ? 'PAYLOAD_TOO_LARGE'
        : status === 415
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : 'MALFORMED_REQUEST';
    problem = new Problem(status, code, fastifyError.message ?? '');
  }
  if (!problem) {
    log.error({ err: error, request_id: request.id }, 'Unhandled error answered with 500');
    problem = new Problem(500, 'INTERNAL_ERROR', 'An unexpected error occurred.');
  }
  const body: Record<string, unknown> = {
    type: `urn:problem-type:${problem.code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[problem.code],
    status: problem.status,
    detail: problem.message,
    instance: request.url.split('?')[0],
    code: problem.code,
    request_id: request.id,
  };
  if (problem.errors?.length) body.errors = problem.errors;
  return reply.status(problem.status).header('content-type', 'application/problem+json').send(body);
}

// ------------------------------------------------------------------ tokens

/** jsonwebtoken's checks for an HS256 token with issuer and audience, by hand. */
function verifyToken(token: string): Claims | 'expired' | undefined {
  const dot1 = token.indexOf('.');
  const dot2 = token.indexOf('.', dot1 + 1);
  if (dot1 < 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) >= 0) return undefined;
  const encodedHeader = token.slice(0, dot1);
  if (encodedHeader !== JWT_HEADER) {
    // Any other header is accepted only if it still says HS256.
    let header: { alg?: unknown } | null;
    try {
      header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8')) as {
        alg?: unknown;
      } | null;
    } catch {
      return undefined;
    }
    if (header === null || typeof header !== 'object' || header.alg !== 'HS256') return undefined;
  }
  const signature = Buffer.from(token.slice(dot2 + 1), 'base64url');
  const expected = createHmac('sha256', KEY).update(token.slice(0, dot2)).digest();
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected))
    return undefined;
  let claims: Claims | null;
  try {
    claims = JSON.parse(
      Buffer.from(token.slice(dot1 + 1, dot2), 'base64url').toString('utf8'),
    ) as Claims | null;
  } catch {
    return undefined;
  }
  if (claims === null || typeof claims !== 'object') return undefined;
  const now = Math.floor(Date.now() / 1000);
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now))
    return undefined;
  if (claims.exp !== undefined) {
    if (typeof claims.exp !== 'number') return undefined;
    if (now >= claims.exp) return 'expired';
  }
  const aud = claims.aud;
  if (Array.isArray(aud) ? !aud.includes(AUDIENCE) : aud !== AUDIENCE) return undefined;
  if (claims.iss !== ISSUER) return undefined;
  return claims;
}

function signToken(claims: { sub: string; org_id: string; ver: number }): string {
  const iat = Math.floor(Date.now() / 1000);
  const payload = {
    ...claims,
    iat,
    exp: iat + EXPIRES_IN,
    aud: AUDIENCE,
    iss: ISSUER,
    jti: randomUUID(),
  };
  const body = `${JWT_HEADER}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${body}.${createHmac('sha256', KEY).update(body).digest('base64url')}`;
}

const isVisible = (org: OrganizationRecord | null): org is OrganizationRecord =>
  org !== null && (org.pending === null || org.pending.type === 'rename');

// ------------------------------------------------------------------ app

async function main(): Promise<void> {
  const client = new MongoClient(MONGODB_URI, {
    appName: 'org-management-baseline',
    maxPoolSize: 50,
    serverSelectionTimeoutMS: 5000,
    connectTimeoutMS: 5000,
  });
  await client.connect();
  const db = client.db(MASTER_DB);
  const admins = db.collection<AdminRecord>('admins');
  const organizations = db.collection<OrganizationRecord>('organizations');
  const slugs = db.collection('organization_slugs');
  const revokedTokens = db.collection<{ _id: string; expires_at: Date }>('revoked_tokens');
  const loginAttempts = db.collection('login_attempts');
  // The indexes the service declares, one createIndex at a time as Mongoose
  // does: FerretDB 1.24 drops the connection on a createIndexes whose
  // indexes all exist already.
  const indexes = [
    () => admins.createIndex({ email: 1 }, { unique: true }),
    () => admins.createIndex({ organization_id: 1 }),
    () => organizations.createIndex({ slug: 1 }, { unique: true }),
    () => organizations.createIndex({ 'pending.lease_until': 1 }, { sparse: true }),
    () => slugs.createIndex({ organization_id: 1 }),
    () => loginAttempts.createIndex({ account: 1, at: 1 }, { name: 'account_at' }),
  ];
  for (const createIndex of indexes) await createIndex();
  // An unknown email costs one compare too, as in the service.
  const dummyHash = await bcrypt.hash(randomBytes(16).toString('hex'), BCRYPT_COST);

  async function resolveSession(request: FastifyRequest) {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^(\S+)\s+(\S+)/.exec(header) : null;
    if (!match || match[1].toLowerCase() !== 'bearer') throw unauthorized();
    const claims = verifyToken(match[2]);
    if (claims === 'expired') throw unauthorized('The token has expired; log in again.');
    if (!claims) throw unauthorized();
    const { sub, org_id, ver, jti, iat, exp } = claims;
    if (
      typeof sub !== 'string' ||
      typeof org_id !== 'string' ||
      typeof jti !== 'string' ||
      typeof ver !== 'number' ||
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      !ObjectId.isValid(sub) ||
      !ObjectId.isValid(org_id)
    ) {
      throw unauthorized('The token is missing required claims.');
    }
    const adminId = new ObjectId(sub);
    const organizationId = new ObjectId(org_id);
    const [admin, org, revoked] = await Promise.all([
      admins.findOne({ _id: adminId }, { projection: ADMIN_PROJECTION }),
      organizations.findOne({ _id: organizationId }),
      revokedTokens.findOne(
        { _id: jti, expires_at: { $gt: new Date() } },
        { projection: { _id: 1 } },
      ),
    ]);
    if (!admin || !admin.organization_id.equals(organizationId) || !isVisible(org)) {
      throw unauthorized('The token refers to an admin or organization that no longer exists.');
    }
    if (revoked) throw unauthorized('The token was revoked by a logout; log in again.');
    if (admin.credentials_version !== ver) {
      throw unauthorized('The token was revoked by a credentials change; log in again.');
    }
    return { adminId, organizationId, email: admin.email, role: admin.role, tokenId: jti };
  }

  const app = Fastify({
    logger: false,
    bodyLimit: 100 * 1024,
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
    genReqId(req) {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
  });
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseJsonBody(request.headers['content-type'], body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(SECURITY_HEADERS);
    if (request.protocol === 'https')
      reply.header('strict-transport-security', STRICT_TRANSPORT_SECURITY);
    reply.header('x-request-id', request.id);
    reply.header('cache-control', 'no-store');
    try {
      checkQueryString(request.raw.url ?? '/');
      done();
    } catch (error) {
      done(error as Error);
    }
  });
  // One line per request, the fields the service logs.
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const route = request.routeOptions.url ?? null;
    const path = request.url.split('?')[0];
    const level: 'error' | 'warn' | 'debug' | 'info' =
      status >= 500
        ? 'error'
        : status >= 400
          ? 'warn'
          : route?.startsWith('/health')
            ? 'debug'
            : 'info';
    log[level](
      {
        request_id: request.id,
        method: request.method,
        route,
        path,
        status,
        duration_ms: Math.round(reply.elapsedTime),
        client_ip: request.ip,
      },
      `${request.method} ${path} ${status}`,
    );
    done();
  });
  app.setErrorHandler(sendProblem);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      new Problem(404, 'NOT_FOUND', `Cannot ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  );

  const dateTime = { type: 'string', format: 'date-time' };
  const publicView = {
    id: { type: 'string' },
    organization_name: { type: 'string' },
    slug: { type: 'string' },
    created_at: dateTime,
    updated_at: dateTime,
  };
  const idEmail = {
    type: 'object',
    properties: { id: { type: 'string' }, email: { type: 'string' } },
  };

  app.get(
    '/',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              service: { type: 'string' },
              version: { type: 'string' },
            },
          },
        },
      },
    },
    () => BANNER,
  );

  app.get('/health/ready', async (request, reply) => {
    try {
      await db.command({ ping: 1 }, { timeoutMS: 1500 });
    } catch {
      throw new Problem(503, 'SERVICE_UNAVAILABLE', 'The database did not answer a ping in time.');
    }
    return reply.send({
      status: 'ok',
      info: { database: { status: 'up' } },
      error: {},
      details: { database: { status: 'up' } },
    });
  });

  app.get(
    '/org/get',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              ...publicView,
              database_name: { type: 'string' },
              cluster: { type: 'string' },
              admin: idEmail,
            },
          },
        },
      },
    },
    async (request, reply) => {
      // @OptionalAuth(): no header is fine, a header must carry a valid token.
      const viewer =
        request.headers.authorization === undefined ? undefined : await resolveSession(request);
      const name = validName(request.query as Record<string, unknown>);
      const slug = slugify(name);
      const org = await organizations.findOne({ slug });
      if (!isVisible(org))
        throw new Problem(404, 'ORG_NOT_FOUND', `No organization is named "${name}".`);
      const view: Record<string, unknown> = {
        id: String(org._id),
        organization_name: org.name,
        slug: org.slug,
        created_at: org.created_at,
        updated_at: org.updated_at,
      };
      if (viewer && org._id.equals(viewer.organizationId)) {
        view.database_name = org.database_name;
        // MONGODB_URI's cluster unless the organization was placed on another.
        view.cluster = org.cluster ?? 'default';
        view.admin = { id: String(viewer.adminId), email: viewer.email };
      }
      reply.header('vary', 'Authorization');
      if (viewer) return view;
      // The service's conditional GET of the public view: strong ETag, revalidate, 304.
      let fields = '';
      for (const [key, value] of Object.entries(view)) {
        fields += `${key}=${value instanceof Date ? value.getTime() : String(value)}\n`;
      }
      const etag = `"${hash('sha256', fields, 'base64url').slice(0, 27)}"`;
      reply.header('etag', etag).header('cache-control', 'no-cache');
      const match = request.headers['if-none-match'];
      if (
        typeof match === 'string' &&
        match.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')
      ) {
        // The route's types know only its 200 schema; a 304 has no body to check.
        return (reply as FastifyReply).status(304).send();
      }
      return view;
    },
  );

  app.post(
    '/admin/login',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              access_token: { type: 'string' },
              token_type: { type: 'string' },
              expires_in: { type: 'integer' },
              admin: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  email: { type: 'string' },
                  role: { type: 'string' },
                },
              },
              organization: {
                type: 'object',
                properties: { id: { type: 'string' }, organization_name: { type: 'string' } },
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { email, password } = validLogin(request.body);
      // LoginLockoutService.admit: record the attempt, then count the window.
      const account = createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
      const now = new Date();
      const { insertedId } = await loginAttempts.insertOne({
        account,
        at: now,
        expires_at: new Date(now.getTime() + LOCKOUT.windowMs),
      });
      const inWindow = await loginAttempts.countDocuments({
        account,
        at: { $gt: new Date(now.getTime() - LOCKOUT.windowMs) },
      });
      if (inWindow > LOCKOUT.limit) {
        await loginAttempts.deleteOne({ _id: insertedId });
        throw new Problem(429, 'TOO_MANY_REQUESTS', 'Too many login attempts for this account.');
      }
      const admin = await admins.findOne({ email }, { projection: LOGIN_PROJECTION });
      const hash = admin?.password_hash;
      const ok = (await bcrypt.compare(password, hash ?? dummyHash)) && hash !== undefined;
      if (!ok || !admin) throw invalidCredentials();
      const org = await organizations.findOne({ _id: admin.organization_id });
      if (!isVisible(org)) throw invalidCredentials();
      await loginAttempts.deleteMany({ account });
      const access_token = signToken({
        sub: String(admin._id),
        org_id: String(org._id),
        ver: admin.credentials_version,
      });
      return reply.status(200).send({
        access_token,
        token_type: 'bearer',
        expires_in: EXPIRES_IN,
        admin: { id: String(admin._id), email: admin.email, role: admin.role },
        organization: { id: String(org._id), organization_name: org.name },
      });
    },
  );

  await app.listen({ port: PORT, host: '127.0.0.1' });
  const shutdown = () => {
    void app
      .close()
      .then(() => client.close())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

// ------------------------------------------------------------------ validation

/** OrganizationNameQueryDto: whitelist, trim, string, 3-50 characters, the name pattern. */
function validName(query: Record<string, unknown>): string {
  const errors: FieldError[] = [];
  for (const key of Object.keys(query)) {
    if (key !== 'organization_name')
      errors.push({ field: key, message: `property ${key} should not exist` });
  }
  let value = query.organization_name;
  if (typeof value === 'string') value = value.trim();
  if (typeof value !== 'string') {
    errors.push({ field: 'organization_name', message: 'organization_name must be a string' });
  } else if (value.length < 3 || value.length > 50) {
    errors.push({
      field: 'organization_name',
      message: 'organization_name must be 3 to 50 characters',
    });
  } else if (!ORG_NAME_PATTERN.test(value)) {
    errors.push({
      field: 'organization_name',
      message:
        'organization_name may contain only letters, digits, spaces, "-" and "_", and must start with a letter or digit',
    });
  }
  if (errors.length > 0) throw invalid(errors);
  return value as string;
}

/** LoginDto: whitelist, email lower-cased and trimmed, at most 254, an email; password 1-1024. */
function validLogin(body: unknown): { email: string; password: string } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid([
      { field: 'body', message: 'an unknown value was passed to the validate function' },
    ]);
  }
  const errors: FieldError[] = [];
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (key !== 'email' && key !== 'password')
      errors.push({ field: key, message: `property ${key} should not exist` });
  }
  let email = fields.email;
  if (typeof email === 'string') email = email.trim().toLowerCase();
  if (typeof email !== 'string') errors.push({ field: 'email', message: 'email must be a string' });
  else if (email.length > 254)
    errors.push({
      field: 'email',
      message: 'email must be shorter than or equal to 254 characters',
    });
  else if (!isEmail(email, { allow_ip_domain: false, require_tld: true }))
    errors.push({ field: 'email', message: 'email must be a valid email address' });
  const password = fields.password;
  if (typeof password !== 'string')
    errors.push({ field: 'password', message: 'password must be a string' });
  else if (password.length < 1)
    errors.push({
      field: 'password',
      message: 'password must be longer than or equal to 1 characters',
    });
  else if (password.length > 1024)
    errors.push({
      field: 'password',
      message: 'password must be shorter than or equal to 1024 characters',
    });
  if (errors.length > 0) throw invalid(errors);
  return { email: email as string, password: password as string };
}

/** request-hardening.ts's checkQueryString: no NUL, no prototype keys, no repeated key. */
function checkQueryString(url: string): void {
  const start = url.indexOf('?');
  if (start < 0) return;
  const seen = new Set();
  for (const pair of url.slice(start + 1).split('&')) {
    if (pair === '') continue;
    const separator = pair.indexOf('=');
    const key = decodeQueryComponent(separator < 0 ? pair : pair.slice(0, separator));
    const value = decodeQueryComponent(separator < 0 ? '' : pair.slice(separator + 1));
    if (key.includes('\u0000') || value.includes('\u0000')) {
      throw new Problem(
        400,
        'MALFORMED_REQUEST',
        'The query string may not contain NUL characters.',
      );
    }
    if (FORBIDDEN_KEYS.has(key))
      throw new Problem(400, 'MALFORMED_REQUEST', `The query parameter "${key}" is not allowed.`);
    if (seen.has(key)) {
      const field = key.slice(0, 64);
      throw invalid([{ field, message: `${field} may appear only once` }]);
    }
    seen.add(key);
  }
}

function decodeQueryComponent(component: string): string {
  try {
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    throw new Problem(400, 'MALFORMED_REQUEST', 'The query string is not valid percent-encoding.');
  }
}

/** request-hardening.ts's parseJsonBody: UTF-8 only, no NUL, safe numbers, bounded depth, no prototype keys. */
function parseJsonBody(contentType: string | undefined, body: Buffer): unknown {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new Problem(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `JSON must be sent as UTF-8, not ${charset.slice(0, 40)}.`,
    );
  }
  if (body.length === 0)
    throw new Problem(400, 'MALFORMED_REQUEST', 'The request declares JSON but has an empty body.');
  if (!isUtf8(body))
    throw new Problem(400, 'MALFORMED_REQUEST', 'The request body is not valid UTF-8.');
  let root: unknown;
  try {
    root = JSON.parse(body.toString('utf8'));
  } catch {
    throw new Problem(400, 'MALFORMED_REQUEST', 'The request body is not valid JSON.');
  }
  const stack: { value: unknown; depth: number }[] = [{ value: root, depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, depth } = next;
    if (typeof value === 'string') {
      if (value.includes('\u0000'))
        throw new Problem(400, 'MALFORMED_REQUEST', 'Strings may not contain NUL characters.');
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) {
        throw new Problem(
          400,
          'MALFORMED_REQUEST',
          'Numbers must lie between -(2^53 - 1) and 2^53 - 1.',
        );
      }
    } else if (value !== null && typeof value === 'object') {
      if (depth >= 32)
        throw new Problem(400, 'MALFORMED_REQUEST', 'The JSON body nests deeper than 32 levels.');
      for (const [key, child] of Object.entries(value)) {
        if (FORBIDDEN_KEYS.has(key))
          throw new Problem(400, 'MALFORMED_REQUEST', `The key "${key}" is not allowed.`);
        if (key.includes('\u0000'))
          throw new Problem(400, 'MALFORMED_REQUEST', 'Keys may not contain NUL characters.');
        stack.push({ value: child, depth: depth + 1 });
      }
    }
  }
  return root;
}

function slugify(name: string): string {
  const collapsed = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_');
  // Linear trim of '_' (as src/common/text/trim.ts), not /^_+|_+$/g.
  let start = 0;
  let end = collapsed.length;
  while (start < end && collapsed[start] === '_') start++;
  while (end > start && collapsed[end - 1] === '_') end--;
  return collapsed.slice(start, end);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
