import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { getModelToken } from '@nestjs/mongoose';
import mongoose, { type Model } from 'mongoose';
import { expectProblem } from './utils/api';
import { bearer, createOrg, newOrgInput, type OrgFixture } from './utils/fixtures';
import { createTestApp, type TestApp } from './utils/test-app';

const PROBLEM = /^application\/problem\+json/;
const OPERATOR = { $ne: null };

/** Object.prototype before any hostile request, to prove none of them changed it. */
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

describe('Hostile input (e2e)', () => {
  let t: TestApp;
  let org: OrgFixture;

  beforeAll(async () => {
    t = await createTestApp();
    org = await createOrg(t, 'Hostile');
  });
  afterAll(async () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_KEYS);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await t.close();
  });

  /** A raw JSON (or other) body to POST /org/create; the answer must be a 4xx problem. */
  const postRaw = (body: string | Buffer, contentType = 'application/json') =>
    t.http().post('/org/create').set('Content-Type', contentType).send(body);

  /** For answers whose code may differ by where the input was caught. */
  const expectSomeProblem = (
    res: { status: number; headers: Record<string, string>; body: unknown },
    status: number,
  ) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status, code: expect.any(String) });
  };

  describe('bodies', () => {
    it('answers a body over 100 kB with 413', async () => {
      const res = await postRaw(JSON.stringify({ ...newOrgInput(), pad: 'x'.repeat(101 * 1024) }));
      expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
    });

    it.each([33, 1000, 15_000])('refuses JSON nested %d levels deep with 400', async (depth) => {
      const nested = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      const res = await postRaw(nested);
      expectProblem(res, 400, 'MALFORMED_REQUEST');
      expect(res.body.detail).toMatch(/nests deeper than 32 levels/);
      const arrays = await postRaw('['.repeat(depth) + ']'.repeat(depth));
      expectProblem(arrays, 400, 'MALFORMED_REQUEST');
    });

    it.each([
      [
        'a top-level __proto__',
        '{"__proto__": {"polluted": true}, "organization_name": "Proto Org"}',
      ],
      ['a nested __proto__', '{"organization_name": {"__proto__": {"polluted": true}}}'],
      ['constructor.prototype', '{"constructor": {"prototype": {"polluted": true}}}'],
      ['a prototype key', '{"email": {"prototype": {"polluted": true}}}'],
    ])('refuses %s key with 400 and pollutes nothing', async (_label, raw) => {
      const res = await postRaw(raw);
      expectProblem(res, 400, 'MALFORMED_REQUEST');
      expect(res.body.detail).toMatch(/not allowed/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it.each(['organization_name', 'email', 'password'])(
      'refuses a NUL byte in %s',
      async (field) => {
        const input: Record<string, string> = { ...newOrgInput() };
        input[field] = `${input[field]}\u0000tail`;
        const res = await postRaw(JSON.stringify(input));
        expectProblem(res, 400, 'MALFORMED_REQUEST');
        expect(res.body.detail).toMatch(/NUL/);
      },
    );

    it('refuses a body that is not UTF-8', async () => {
      const latin1 = Buffer.from(
        '{"organization_name":"Caf\u00e9 Org","email":"a@b.test","password":"longenough"}',
        'latin1',
      );
      // Injected: an HTTP client library would re-encode the bytes.
      const res = await t.app
        .getHttpAdapter()
        .getInstance()
        .inject({
          method: 'POST',
          url: '/org/create',
          headers: { 'content-type': 'application/json' },
          payload: latin1,
        });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
      expect(res.json()).toMatchObject({
        code: 'MALFORMED_REQUEST',
        detail: expect.stringMatching(/UTF-8/),
      });
    });

    it('refuses JSON declared in another charset with 415', async () => {
      const res = await postRaw(
        JSON.stringify(newOrgInput()),
        'application/json; charset=iso-8859-1',
      );
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it.each([
      ['1e400 (Infinity)', '1e400'],
      ['2^64', '18446744073709551616'],
      ['-2^60', '-1152921504606846976'],
    ])('refuses the number %s with 400', async (_label, number) => {
      const res = await postRaw(
        `{"organization_name": ${number}, "email": "a@b.test", "password": "longenough"}`,
      );
      expectProblem(res, 400, 'MALFORMED_REQUEST');
    });

    it('answers a plain wrong-typed number with a field error', async () => {
      const res = await postRaw(JSON.stringify({ ...newOrgInput(), organization_name: 12345 }));
      expectProblem(res, 400, 'VALIDATION_FAILED');
    });

    it.each([
      ['text/plain', 'organization_name=Acme'],
      [
        'application/x-www-form-urlencoded',
        'organization_name=Form+Org&email=a%40b.test&password=longenough',
      ],
      [
        'multipart/form-data; boundary=x',
        '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
      ],
      ['application/xml', '<org/>'],
      ['application/jsonx', '{}'],
    ])('refuses a %s body with 415', async (contentType, body) => {
      const res = await postRaw(body, contentType);
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('refuses an empty body declared as JSON with 400', async () => {
      const res = await postRaw('');
      expectProblem(res, 400, 'MALFORMED_REQUEST');
    });
  });

  describe('query strings', () => {
    const query = (qs: string) => t.http().get(`/org/get?${qs}`);

    it('refuses a repeated parameter, naming it', async () => {
      const res = await query('organization_name=Abc&organization_name=Def');
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'organization_name' })]);
    });

    it.each([
      '__proto__=x',
      '__proto__[polluted]=1',
      'constructor=x',
      'organization_name=Ab&prototype=1',
    ])('refuses the prototype key in %s', async (qs) => {
      // Brackets mean nothing to the parser: "__proto__[polluted]" is just an unknown parameter.
      expectSomeProblem(await query(qs), 400);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it.each(['organization_name=Acme%00', 'organization_name%00=Acme'])(
      'refuses a NUL in %s',
      async (qs) => {
        expectProblem(await query(qs), 400, 'MALFORMED_REQUEST');
      },
    );

    it.each(['organization_name=%FF%FE', 'organization_name=%E0%A4%A', 'organization_name=%'])(
      'refuses %s, which is not UTF-8 percent-encoding',
      async (qs) => {
        const res = await query(qs);
        expectProblem(res, 400, 'MALFORMED_REQUEST');
        expect(res.body.detail).toMatch(/UTF-8/);
      },
    );

    it('refuses an oversized value with a field error', async () => {
      expectProblem(await query(`organization_name=${'a'.repeat(8000)}`), 400, 'VALIDATION_FAILED');
    });

    it('answers headers over 16 kB (a huge URL) with 431 problem+json', async () => {
      const server = t.app.getHttpServer();
      if (!server.listening)
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(
            `GET /org/get?organization_name=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
          ),
        );
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.1 431 /);
      expect(raw).toMatch(/content-type: application\/problem\+json/i);
      expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 431 });
    });
  });

  describe('methods and paths', () => {
    it.each([
      ['GET', '/org/create', 'POST'],
      ['PATCH', '/', 'GET, HEAD'],
      ['DELETE', '/admin/login', 'POST'],
      ['POST', '/health/live', 'GET, HEAD'],
    ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
      const res = await t.http()[method.toLowerCase() as 'get'](path);
      expectProblem(res, 405, 'METHOD_NOT_ALLOWED');
      expect(res.headers.allow).toBe(allow);
    });

    it('still answers an unknown path with 404', async () => {
      expectProblem(await t.http().post('/org/nothing'), 404, 'NOT_FOUND');
    });

    it.each(['/org/get%00', '/%E0%A4%A', '/org/%2e%2e/admin/login'])(
      'answers the odd path %s with a 4xx problem',
      async (path) => {
        const res = await t.http().get(path);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.headers['content-type']).toMatch(PROBLEM);
      },
    );

    it('answers an absurd bearer token with 401', async () => {
      const res = await t
        .http()
        .get('/org/get?organization_name=Abc')
        .set('Authorization', `Bearer ${'x'.repeat(10_000)}`);
      expectProblem(res, 401, 'UNAUTHORIZED');
    });
  });

  describe('operator payloads in every input position', () => {
    it.each([
      ['POST /org/create', 'organization_name'],
      ['POST /org/create', 'email'],
      ['POST /org/create', 'password'],
      ['POST /admin/login', 'email'],
      ['POST /admin/login', 'password'],
      ['PUT /org/update', 'organization_name'],
      ['PUT /org/update', 'new_organization_name'],
      ['PUT /org/update', 'email'],
      ['PUT /org/update', 'password'],
      ['PUT /org/update', 'current_password'],
      ['DELETE /org/delete', 'organization_name'],
    ])('%s refuses an operator object in body.%s with 400', async (operation, field) => {
      const [method, path] = operation.split(' ');
      const valid: Record<string, Record<string, unknown>> = {
        'POST /org/create': newOrgInput(),
        'POST /admin/login': { email: org.email, password: org.password },
        'PUT /org/update': { email: `new-${org.email}`, current_password: org.password },
        'DELETE /org/delete': { organization_name: org.name },
      };
      const res = await t
        .http()
        [method.toLowerCase() as 'post'](path)
        .set(bearer(org.token))
        .send({ ...valid[operation], [field]: OPERATOR });
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it.each([
      ['GET /org/get', 'organization_name[$ne]=x'],
      ['GET /org/get', 'organization_name[$regex]=.*'],
      ['GET /org/get', 'organization_name=%7B%22%24ne%22%3Anull%7D'],
      ['DELETE /org/delete', 'organization_name[$ne]=x'],
      ['DELETE /org/delete', 'organization_name=%24ne'],
    ])('%s refuses the operator query %s with 400', async (operation, qs) => {
      const [method, path] = operation.split(' ');
      const res = await t
        .http()
        [method.toLowerCase() as 'get'](`${path}?${qs}`)
        .set(bearer(org.token));
      expectSomeProblem(res, 400);
    });

    it('refuses operators in every parameter and body field the OpenAPI document lists', async () => {
      type Operation = {
        parameters?: Array<{ name: string; in: string }>;
        requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
      };
      const doc = (await t.http().get('/docs-json').expect(200)).body as {
        paths: Record<string, Record<string, Operation>>;
        components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
      };
      const injectedPath = encodeURIComponent(JSON.stringify(OPERATOR));
      const failures: string[] = [];
      let probes = 0;
      for (const [template, methods] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(methods)) {
          const params = operation.parameters ?? [];
          const path = template.replace(/\{[^{}]+\}/g, injectedPath);
          const positions: Array<{ label: string; qs?: string; body?: Record<string, unknown> }> =
            [];
          for (const p of params.filter((p) => p.in === 'query')) {
            positions.push({ label: `query.${p.name}`, qs: `${p.name}[$ne]=x` });
          }
          if (params.some((p) => p.in === 'path')) positions.push({ label: 'path' });
          const ref = operation.requestBody?.content['application/json']?.schema.$ref;
          const fields = ref
            ? Object.keys(doc.components.schemas[ref.split('/').pop()!].properties ?? {})
            : [];
          for (const field of fields)
            positions.push({ label: `body.${field}`, body: { [field]: OPERATOR } });
          for (const position of positions) {
            probes++;
            let req = t
              .http()
              [method as 'get'](`${path}${position.qs ? `?${position.qs}` : ''}`)
              .set(bearer(org.token));
            if (position.body) req = req.send(position.body);
            const res = await req;
            if (res.status < 400 || res.status >= 500) {
              failures.push(`${method.toUpperCase()} ${template} ${position.label}: ${res.status}`);
            }
          }
        }
      }
      expect(probes).toBeGreaterThan(15);
      expect(failures).toEqual([]);
    });
  });

  describe('explicit nulls and duplicate keys', () => {
    it('refuses null for an optional field instead of treating it as absent', async () => {
      const res = await org.owner.update({
        organization_name: null,
        new_organization_name: `${org.name} Null`,
      });
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors).toEqual([expect.objectContaining({ field: 'organization_name' })]);
    });

    it('refuses a name padded with a tab or newline (only spaces are trimmed)', async () => {
      for (const name of [`\tTabbed ${Date.now()}`, `Newline ${Date.now()}\n`]) {
        const res = await postRaw(JSON.stringify({ ...newOrgInput(), organization_name: name }));
        expectProblem(res, 400, 'VALIDATION_FAILED');
      }
    });

    it('answers 409, never 500, when admins take the same new email at once', async () => {
      // They all pass the "email in use" check; the unique index decides, and
      // FerretDB reports that collision on an update with code 1, not 11000.
      const owners = await Promise.all(
        Array.from({ length: 6 }, (_, i) => createOrg(t, `Race ${i}`)),
      );
      const email = `contested-${Date.now()}@example.test`;
      const results = await Promise.all(
        owners.map((owner) => owner.owner.update({ email, current_password: owner.password })),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 409, 409, 409, 409, 409]);
      for (const res of results.filter((r) => r.status === 409)) {
        expectProblem(res, 409, 'EMAIL_TAKEN');
      }
    });
  });

  describe('Mongoose', () => {
    it('runs a release patched for GHSA-pcrw-h46h-c93h (sanitizeFilter on countDocuments: >= 9.9.2)', () => {
      const [major, minor, patch] = mongoose.version.split('.').map(Number);
      expect(major).toBe(9);
      expect(minor * 1000 + patch).toBeGreaterThanOrEqual(9 * 1000 + 2);
    });

    it('sanitizes operator filters, countDocuments included, and throws on unknown paths', async () => {
      const admins = t.app.get<Model<{ email: string }>>(getModelToken('Admin'));
      expect(await admins.countDocuments({})).toBeGreaterThan(0);
      // Honoured, each operator would match every admin. Sanitized, it is wrapped
      // in $eq and compared as a value, which an object cannot be for a string path.
      const sanitized = /Cast to string failed/;
      await expect(admins.countDocuments({ email: OPERATOR as never })).rejects.toThrow(sanitized);
      await expect(admins.find({ email: { $gt: '' } as never })).rejects.toThrow(sanitized);
      await expect(admins.exists({ email: { $regex: '.*' } })).rejects.toThrow(sanitized);
      // The same filter, trusted explicitly, does match: the check above is not vacuous.
      expect(
        await admins.countDocuments({ email: mongoose.trusted(OPERATOR) as never }),
      ).toBeGreaterThan(0);
      await expect(admins.find({ not_a_field: 'x' } as never)).rejects.toThrow(/strictQuery/);
      await expect(admins.find({ $where: 'true' } as never)).rejects.toThrow(/sanitizeFilter/);
    });
  });
});
