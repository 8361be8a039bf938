import { TENANT_META_COLLECTION } from '../src/database/database.constants';
import { LATEST_TENANT_VERSION } from '../src/migrations/tenant-migrations';
import { slugify } from '../src/organizations/organization-name';
import { apiClient, expectProblem, type Api } from './utils/api';
import { bearer, createOrg, newOrgInput, PASSWORD, tenantDbNameOf } from './utils/fixtures';
import { createTestApp, tenantDatabases, type TestApp } from './utils/test-app';

describe('Organizations API (e2e)', () => {
  let t: TestApp;
  let api: Api;

  beforeAll(async () => {
    t = await createTestApp();
    api = apiClient(t);
  });

  afterAll(async () => {
    await t.close();
  });

  describe('GET /', () => {
    it('answers the service banner with a request id', async () => {
      const res = await t.http().get('/').expect(200);
      expect(res.body).toEqual({
        status: 'ok',
        service: 'org-management-service',
        version: expect.any(String),
      });
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('echoes a sane incoming X-Request-Id and replaces an unsafe one', async () => {
      const echoed = await t.http().get('/').set('X-Request-Id', 'client-abc.123').expect(200);
      expect(echoed.headers['x-request-id']).toBe('client-abc.123');
      const replaced = await t
        .http()
        .get('/')
        .set('X-Request-Id', 'bad id\twith spaces')
        .expect(200);
      expect(replaced.headers['x-request-id']).not.toBe('bad id\twith spaces');
      expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('health', () => {
    it('reports liveness and readiness', async () => {
      await t.http().get('/health/live').expect(200, { status: 'ok' });
      const ready = await t.http().get('/health/ready').expect(200);
      expect(ready.body.status).toBe('ok');
      expect(ready.body.info.database.status).toBe('up');
    });
  });

  describe('POST /org/create', () => {
    it('creates the organization, its owner and its tenant database', async () => {
      const input = newOrgInput('Acme');
      const res = await api.createOrg(input).expect(201);
      const slug = slugify(input.organization_name);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{24}$/),
        organization_name: input.organization_name,
        slug,
        database_name: `org_${slug}`,
        cluster: 'default',
        created_at: expect.any(String),
        updated_at: expect.any(String),
        admin: { id: expect.stringMatching(/^[0-9a-f]{24}$/), email: input.email },
      });
      expect(JSON.stringify(res.body)).not.toMatch(/password|hash/i);
      expect(await tenantDatabases(t.master)).toContain(`org_${slug}`);
      const meta = await t.master
        .getClient()
        .db(`org_${slug}`)
        .collection(TENANT_META_COLLECTION)
        .findOne({});
      expect(meta).toMatchObject({ schema_version: LATEST_TENANT_VERSION });
      expect(String(meta!.organization_id)).toBe(res.body.id);
    });

    it('trims the name and lower-cases the email', async () => {
      const input = newOrgInput('Trim');
      const res = await api
        .createOrg({
          ...input,
          organization_name: `  ${input.organization_name}  `,
          email: input.email.toUpperCase(),
        })
        .expect(201);
      expect(res.body.organization_name).toBe(input.organization_name);
      expect(res.body.admin.email).toBe(input.email);
    });

    it('treats names that share a slug as the same organization (409 ORG_NAME_TAKEN)', async () => {
      const input = newOrgInput('Same Name');
      await api.createOrg(input).expect(201);
      const variant = input.organization_name.toUpperCase().replace(/ /g, '-');
      expect(slugify(variant)).toBe(slugify(input.organization_name));
      const res = await api.createOrg({ ...newOrgInput(), organization_name: variant });
      expectProblem(res, 409, 'ORG_NAME_TAKEN');
    });

    it('rejects an email already used by any admin (409 EMAIL_TAKEN) and frees the name', async () => {
      const first = newOrgInput();
      await api.createOrg(first).expect(201);
      const second = { ...newOrgInput(), email: first.email };
      expectProblem(await api.createOrg(second), 409, 'EMAIL_TAKEN');
      // The failed create rolled back: its name is free and no database was left.
      expect(await tenantDatabases(t.master)).not.toContain(
        tenantDbNameOf(second.organization_name),
      );
      await api.createOrg({ ...second, email: `x${second.email}` }).expect(201);
    });

    it('gives exactly one 201 for 20 parallel creates of one name', async () => {
      const name = newOrgInput('Race').organization_name;
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          api.createOrg({ ...newOrgInput(), organization_name: name }),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(19);
      for (const refused of results.filter((r) => r.status === 409)) {
        expectProblem(refused, 409, 'ORG_NAME_TAKEN');
      }
    });

    it.each([
      ['a missing field', { organization_name: 'Valid Name', email: 'a@b.test' }, 'password'],
      ['a short name', { ...newOrgInput(), organization_name: 'ab' }, 'organization_name'],
      ['a long name', { ...newOrgInput(), organization_name: 'x'.repeat(51) }, 'organization_name'],
      [
        'a name with symbols',
        { ...newOrgInput(), organization_name: 'Acme!' },
        'organization_name',
      ],
      [
        'a name starting with "-"',
        { ...newOrgInput(), organization_name: '-Acme' },
        'organization_name',
      ],
      ['a bad email', { ...newOrgInput(), email: 'not-an-email' }, 'email'],
      ['a short password', { ...newOrgInput(), password: 'short' }, 'password'],
      ['a password over 72 bytes', { ...newOrgInput(), password: 'é'.repeat(37) }, 'password'],
      ['a whitespace password', { ...newOrgInput(), password: '          ' }, 'password'],
      [
        'an operator object as a string',
        { ...newOrgInput(), organization_name: { $gt: '' } },
        'organization_name',
      ],
      ['an array as a string', { ...newOrgInput(), email: ['a@b.test'] }, 'email'],
      ['an unknown field', { ...newOrgInput(), role: 'superadmin' }, 'role'],
    ])('rejects %s with 400 naming the field', async (_label, body, field) => {
      const problem = expectProblem(await api.createOrg(body), 400, 'VALIDATION_FAILED');
      expect(problem.instance).toBe('/org/create');
      expect(problem.errors!.map((e) => e.field)).toContain(field);
    });

    it('rejects malformed JSON with 400 problem+json', async () => {
      const res = await t
        .http()
        .post('/org/create')
        .set('Content-Type', 'application/json')
        .send('{"organization_name": ');
      expectProblem(res, 400, 'MALFORMED_REQUEST');
      expect(res.body.request_id).toBe(res.headers['x-request-id']);
    });

    it('rejects a body over 100 kB with 413 problem+json', async () => {
      const res = await api.createOrg({ ...newOrgInput(), padding: 'x'.repeat(101 * 1024) });
      expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
    });

    it('rejects a non-JSON content type with 415', async () => {
      const res = await t
        .http()
        .post('/org/create')
        .set('Content-Type', 'text/plain')
        .send('hello');
      expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it.each([
      ['a JSON array', '[1,2]'],
      ['a JSON string', '"text"'],
      ['JSON null', 'null'],
    ])('rejects %s as the body with 400', async (_label, raw) => {
      const res = await t
        .http()
        .post('/org/create')
        .set('Content-Type', 'application/json')
        .send(raw);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    });
  });

  describe('GET /org/get', () => {
    it('returns the public view to anyone, by any spelling of the name', async () => {
      const org = await createOrg(t);
      const res = await api.getOrg(org.name.toUpperCase().replace(' ', '_')).expect(200);
      expect(res.body).toEqual({
        id: org.id,
        organization_name: org.name,
        slug: slugify(org.name),
        created_at: expect.any(String),
        updated_at: expect.any(String),
      });
    });

    it("returns the owner view with the organization's own token", async () => {
      const org = await createOrg(t);
      const res = await org.owner.getOrg(org.name).expect(200);
      expect(res.body.database_name).toBe(tenantDbNameOf(org.name));
      expect(res.body.admin).toEqual({ id: org.adminId, email: org.email });
    });

    it("returns only the public view with another organization's token", async () => {
      const [mine, other] = await Promise.all([createOrg(t), createOrg(t)]);
      const res = await mine.owner.getOrg(other.name).expect(200);
      expect(res.body.database_name).toBeUndefined();
      expect(res.body.admin).toBeUndefined();
    });

    it('answers 404 ORG_NOT_FOUND for an unknown name', async () => {
      expectProblem(await api.getOrg('Nobody Here 000'), 404, 'ORG_NOT_FOUND');
    });

    it('answers 400 when the name is missing or repeated', async () => {
      await t.http().get('/org/get').expect(400);
      const res = await t.http().get('/org/get?organization_name=Abc&organization_name=Def');
      expectProblem(res, 400, 'VALIDATION_FAILED');
    });

    it('answers 401 to an invalid token even though the token is optional', async () => {
      const org = await createOrg(t);
      await api.as('not.a.token').getOrg(org.name).expect(401);
    });
  });

  describe('POST /admin/login', () => {
    it('issues a bearer token describing the admin and organization', async () => {
      const org = await createOrg(t);
      const res = await api.login(org.email, PASSWORD).expect(200);
      expect(res.body).toEqual({
        access_token: expect.any(String),
        token_type: 'bearer',
        expires_in: 1800,
        admin: { id: org.adminId, email: org.email, role: 'owner' },
        organization: { id: org.id, organization_name: org.name },
      });
      const [header, payload] = (res.body.access_token as string)
        .split('.')
        .slice(0, 2)
        .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
      expect(header.alg).toBe('HS256');
      expect(payload).toEqual(
        expect.objectContaining({
          sub: org.adminId,
          org_id: org.id,
          jti: expect.any(String),
          iss: expect.any(String),
          aud: expect.any(String),
        }),
      );
      expect(payload.exp - payload.iat).toBe(1800);
    });

    it('answers unknown email and wrong password with the same 401 body', async () => {
      const org = await createOrg(t);
      const wrong = await api.login(org.email, 'wrong password!');
      const unknown = await api.login('nobody@example.test', 'wrong password!');
      expectProblem(wrong, 401, 'INVALID_CREDENTIALS');
      expectProblem(unknown, 401, 'INVALID_CREDENTIALS');
      const strip = (b: Record<string, unknown>) => ({ ...b, request_id: undefined });
      expect(strip(wrong.body)).toEqual(strip(unknown.body));
    });

    it('logs in with the email in any case', async () => {
      const org = await createOrg(t);
      await api.login(org.email.toUpperCase(), PASSWORD).expect(200);
    });

    it('rejects a malformed login body with 400', async () => {
      await t
        .http()
        .post('/admin/login')
        .send({ email: { $ne: null }, password: 'x' })
        .expect(400);
      await t.http().post('/admin/login').send({ email: 'a@b.test' }).expect(400);
    });
  });

  describe('PUT /org/update', () => {
    it('requires a token (401)', async () => {
      expectProblem(await api.rename('Whatever'), 401, 'UNAUTHORIZED');
    });

    it('rejects an empty change with 400', async () => {
      const org = await createOrg(t);
      await org.owner.update({}).expect(400);
    });

    it("answers 403 when organization_name is not the token's organization", async () => {
      const [mine, other] = await Promise.all([createOrg(t), createOrg(t)]);
      const res = await mine.owner.rename(`${other.name} X`, other.name);
      expectProblem(res, 403, 'FORBIDDEN');
      await api.getOrg(other.name).expect(200);
    });

    it('renames and keeps the token valid', async () => {
      const org = await createOrg(t);
      const newName = `${org.name} Renamed`;
      const res = await org.owner.rename(newName, org.name).expect(200);
      expect(res.body.organization_name).toBe(newName);
      expect(res.body.database_name).toBe(tenantDbNameOf(newName));
      await api.getOrg(org.name).expect(404);
      await org.owner.getOrg(newName).expect(200);
    });

    it('changes only the spelling without moving data when the slug stays the same', async () => {
      const org = await createOrg(t);
      const before = await org.owner.getOrg(org.name).expect(200);
      const res = await org.owner.rename(org.name.toUpperCase()).expect(200);
      expect(res.body.organization_name).toBe(org.name.toUpperCase());
      expect(res.body.database_name).toBe(before.body.database_name);
    });

    it('answers 409 ORG_NAME_TAKEN when renaming onto another organization', async () => {
      const [mine, other] = await Promise.all([createOrg(t), createOrg(t)]);
      expectProblem(await mine.owner.rename(other.name.toLowerCase()), 409, 'ORG_NAME_TAKEN');
      // Nothing moved and the organization can be renamed again.
      await mine.owner.rename(`${mine.name} Two`).expect(200);
    });

    it('changes the password, revoking earlier tokens', async () => {
      const org = await createOrg(t);
      await org.owner.update({ password: 'a brand new password' }).expect(400);
      const wrong = await org.owner.update({
        password: 'a brand new password',
        current_password: 'not my password',
      });
      expectProblem(wrong, 403, 'WRONG_PASSWORD');
      await org.owner
        .update({ password: 'a brand new password', current_password: PASSWORD })
        .expect(200);
      await org.owner.getOrg(org.name).expect(401);
      await api.login(org.email, PASSWORD).expect(401);
      await api.login(org.email, 'a brand new password').expect(200);
    });

    it('changes the email (409 EMAIL_TAKEN when another admin has it)', async () => {
      const [org, other] = await Promise.all([createOrg(t), createOrg(t)]);
      const taken = await org.owner.update({ email: other.email, current_password: PASSWORD });
      expectProblem(taken, 409, 'EMAIL_TAKEN');
      const fresh = `new-${org.email}`;
      const res = await org.owner
        .update({ email: fresh.toUpperCase(), current_password: PASSWORD })
        .expect(200);
      expect(res.body.admin.email).toBe(fresh);
      await api.login(fresh, PASSWORD).expect(200);
    });

    it('rejects unknown fields with 400', async () => {
      const org = await createOrg(t);
      const res = await org.owner.update({ new_organization_name: 'Fine Name', admin: true });
      const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual(
        expect.arrayContaining([expect.objectContaining({ field: 'admin' })]),
      );
    });
  });

  describe('DELETE /org/delete', () => {
    it('deletes the organization, its admins and its database; the name is free again', async () => {
      const org = await createOrg(t);
      const got = await org.owner.getOrg(org.name).expect(200);
      const res = await org.owner.deleteOrg(org.name).expect(200);
      expect(res.body).toEqual({ organization_name: org.name, deleted: true });
      expect(await tenantDatabases(t.master)).not.toContain(got.body.database_name);
      await api.getOrg(org.name).expect(404);
      await api.login(org.email, PASSWORD).expect(401);
      await api
        .createOrg({ organization_name: org.name, email: org.email, password: PASSWORD })
        .expect(201);
    });

    it('accepts the name in a JSON body', async () => {
      const org = await createOrg(t);
      await t
        .http()
        .delete('/org/delete')
        .set(bearer(org.token))
        .send({ organization_name: org.name })
        .expect(200);
      await api.getOrg(org.name).expect(404);
    });

    it('rejects a token of a deleted organization with 401', async () => {
      const org = await createOrg(t);
      await org.owner.deleteOrg(org.name).expect(200);
      expectProblem(await org.owner.rename('Ghost Org'), 401, 'UNAUTHORIZED');
    });

    it("answers 403 to another organization's token and deletes nothing", async () => {
      const [mine, other] = await Promise.all([createOrg(t), createOrg(t)]);
      expectProblem(await mine.owner.deleteOrg(other.name), 403, 'FORBIDDEN');
      await api.getOrg(other.name).expect(200);
    });

    it('answers 404 for an unknown organization, 400 without a name, 401 without a token', async () => {
      const org = await createOrg(t);
      await org.owner.deleteOrg('Nobody Here 000').expect(404);
      await t.http().delete('/org/delete').set(bearer(org.token)).expect(400);
      await api.deleteOrg(org.name).expect(401);
    });
  });

  describe('errors', () => {
    it('answers unknown routes with a 404 problem', async () => {
      const res = await t.http().get('/no/such/route');
      expectProblem(res, 404, 'NOT_FOUND');
      expect(res.body.instance).toBe('/no/such/route');
    });
  });
});
