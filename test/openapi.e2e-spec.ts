import { setTimeout as sleep } from 'node:timers/promises';
import { apiClient } from './utils/api';
import { bearer, createOrg, newOrgInput } from './utils/fixtures';
import { createTestApp, type TestApp } from './utils/test-app';

type Schema = {
  $ref?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  oneOf?: Schema[];
  allOf?: Schema[];
};
type OpenApi = {
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
        security?: unknown[];
      }
    >
  >;
  components: {
    schemas: Record<string, Schema>;
    securitySchemes: Record<string, { scheme?: string }>;
  };
};

describe('OpenAPI document (e2e)', () => {
  let t: TestApp;
  let doc: OpenApi;

  const resolve = (schema: Schema): Schema =>
    schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()!] : schema;

  /** The documented schema of one response, checked against a real body: same keys, required present. */
  const expectConforms = (
    body: Record<string, unknown>,
    path: string,
    method: string,
    status: number,
  ) => {
    const response = doc.paths[path][method].responses[String(status)];
    const content = response.content!;
    const schema = resolve(Object.values(content)[0].schema);
    // Nothing undocumented is returned, and everything required is there.
    expect(Object.keys(schema.properties!)).toEqual(expect.arrayContaining(Object.keys(body)));
    expect(Object.keys(body)).toEqual(expect.arrayContaining(schema.required ?? []));
  };

  beforeAll(async () => {
    t = await createTestApp();
    doc = (await t.http().get('/docs-json').expect(200)).body;
  });
  afterAll(async () => {
    await t.close();
  });

  it('documents every endpoint of the contract', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /',
        'GET /health/live',
        'GET /health/ready',
        'POST /org/create',
        'GET /org/get',
        'PUT /org/update',
        'DELETE /org/delete',
        'POST /admin/login',
        'POST /admin/logout',
        'GET /org/list',
        'GET /org/audit',
        'POST /org/admins',
        'GET /org/admins',
        'PATCH /org/admins/{id}',
        'DELETE /org/admins/{id}',
        'POST /org/members',
        'GET /org/members',
        'GET /org/members/{id}',
        'PATCH /org/members/{id}',
        'DELETE /org/members/{id}',
        'GET /org/operations/{id}',
      ].sort(),
    );
  });

  it('declares the bearer scheme on protected endpoints', () => {
    expect(Object.values(doc.components.securitySchemes)[0].scheme).toBe('bearer');
    for (const [path, method] of [
      ['/org/update', 'put'],
      ['/org/delete', 'delete'],
      ['/org/get', 'get'],
    ]) {
      expect(doc.paths[path][method].security).toBeDefined();
    }
  });

  it('declares every error response with the problem+json schema', () => {
    const wrong: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          const ref = response.content?.['application/problem+json']?.schema.$ref;
          if (Number(status) >= 400 && ref !== '#/components/schemas/ProblemDetailsDto') {
            wrong.push(`${method} ${path} ${status}`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('describes request DTO fields (the Swagger plugin ran)', () => {
    const create = doc.components.schemas.CreateOrganizationDto;
    expect(Object.keys(create.properties!).sort()).toEqual([
      'cluster',
      'email',
      'organization_name',
      'password',
    ]);
    expect(create.required?.sort()).toEqual(['email', 'organization_name', 'password']);
  });

  it('matches what the server really returns', async () => {
    const api = apiClient(t);
    const input = newOrgInput('Docs');
    const created = await api.createOrg(input).expect(201);
    expectConforms(created.body, '/org/create', 'post', 201);

    const login = await api.login(input.email, input.password).expect(200);
    expectConforms(login.body, '/admin/login', 'post', 200);
    const loginSchema = resolve(
      doc.paths['/admin/login'].post.responses['200'].content!['application/json'].schema,
    );
    expect(Object.keys(login.body.admin).sort()).toEqual(
      Object.keys(resolve(loginSchema.properties!.admin).properties!).sort(),
    );

    const conflict = await api.createOrg(input).expect(409);
    expectConforms(conflict.body, '/org/create', 'post', 409);

    const invalid = await api.createOrg({}).expect(400);
    const problem = doc.components.schemas.ProblemDetailsDto;
    expect(Object.keys(invalid.body).sort()).toEqual(Object.keys(problem.properties!).sort());

    const deleted = await api
      .as(login.body.access_token as string)
      .deleteOrg(input.organization_name)
      .expect(200);
    expectConforms(deleted.body, '/org/delete', 'delete', 200);
  });

  it('documents the 202 of a long operation and the operation it returns', async () => {
    for (const [path, method] of [
      ['/org/update', 'put'],
      ['/org/delete', 'delete'],
    ]) {
      const accepted = doc.paths[path][method].responses['202'];
      expect(resolve(accepted.content!['application/json'].schema)).toBe(
        doc.components.schemas.OperationView,
      );
    }
    const org = await createOrg(t, 'Docs');
    const res = await t
      .http()
      .put('/org/update')
      .set(bearer(org.token))
      .set('Prefer', 'respond-async')
      .send({ new_organization_name: `${org.name} Later` })
      .expect(202);
    expectConforms(res.body, '/org/update', 'put', 202);
    let polled = res.body as Record<string, unknown>;
    while (polled.status === 'running') {
      await sleep(50);
      polled = (await t.http().get(res.headers.location).set(bearer(org.token)).expect(200)).body;
    }
    expectConforms(polled, '/org/operations/{id}', 'get', 200);
    // The error is exactly the problem+json body, described once.
    const error = doc.components.schemas.OperationView.properties!.error;
    expect(resolve(error.allOf?.[0] ?? error)).toBe(doc.components.schemas.ProblemDetailsDto);
    const missing = await t
      .http()
      .get('/org/operations/no-such-operation')
      .set(bearer(org.token))
      .expect(404);
    expectConforms(missing.body, '/org/operations/{id}', 'get', 404);
  });

  it('serves Swagger UI and ReDoc from installed packages', async () => {
    const ui = await t.http().get('/docs').redirects(1).expect(200);
    expect(ui.text).toContain('swagger-ui');
    const redoc = await t.http().get('/redoc').expect(200);
    expect(redoc.text).toContain('/redoc/redoc.standalone.js');
    const bundle = await t.http().get('/redoc/redoc.standalone.js').expect(200);
    expect(bundle.headers['content-type']).toMatch(/javascript/);
    expect(Number(bundle.headers['content-length'] ?? bundle.body.length)).toBeGreaterThan(100_000);
  });
});
