import type { Response, Test } from 'supertest';
import type { CreateAdminDto } from '../../src/admins/dto/create-admin.dto';
import type { CreateMemberDto } from '../../src/members/dto/member.dto';
import type { CreateOrganizationDto } from '../../src/organizations/dto/create-organization.dto';
import type { ListOrganizationsQueryDto } from '../../src/organizations/dto/list-organizations-query.dto';
import type { UpdateOrganizationDto } from '../../src/organizations/dto/update-organization.dto';
import type { PageQueryDto } from '../../src/common/http/page-query.dto';
import type { ErrorCode } from '../../src/common/errors/error-codes';
import type { ProblemDetailsDto } from '../../src/common/http/problem-details.dto';
import type { LoginResponseView } from '../../src/auth/dto/login-response.view';
import type { TestApp } from './test-app';

/**
 * A request body: the DTO's fields name what the route reads, but any value
 * goes, so a test can still send the wrong type and see the 400.
 */
export type Body<T> = { [K in keyof T]?: unknown } & Record<string, unknown>;
type Query = Record<string, string | number>;

/**
 * Every route of the service as one method, on behalf of one caller: anonymous
 * or the holder of a bearer token. Each method returns the supertest request
 * unsent, so a test still chains `.expect(...)` or `.set(...)` and reads the
 * whole response.
 */
export interface ApiClient {
  /** The bearer token this client sends, if any. */
  readonly token?: string;
  /** The same routes with another caller's token. */
  as(token: string): ApiClient;

  createOrg(body: Body<CreateOrganizationDto>): Test;
  getOrg(organizationName: string): Test;
  listOrgs(query?: Query & Partial<Record<keyof ListOrganizationsQueryDto, string | number>>): Test;
  /** PUT /org/update with any mix of rename, email and password change. */
  update(body: Body<UpdateOrganizationDto>): Test;
  /** Renames the token's organization; `current` names it too, as a careful client would. */
  rename(newName: string, current?: string): Test;
  /** DELETE /org/delete, the name in the query string. */
  deleteOrg(organizationName: string): Test;

  login(email: string, password: string): Test;
  logout(): Test;

  admins: {
    add(body: Body<CreateAdminDto>): Test;
    list(): Test;
    setRole(id: string, role: unknown): Test;
    remove(id: string): Test;
  };
  members: {
    add(body: Body<CreateMemberDto>): Test;
    list(query?: Query & Partial<Record<keyof PageQueryDto, string | number>>): Test;
    get(id: string): Test;
    update(id: string, body: Body<CreateMemberDto>): Test;
    remove(id: string): Test;
  };
  audit(query?: Query & Partial<Record<keyof PageQueryDto, string | number>>): Test;
}

/** A client holding the token of a successful login, and who that is. */
export interface AdminSession extends ApiClient {
  readonly token: string;
  readonly adminId: string;
  readonly email: string;
  readonly role: string;
  /** Null for the super admin, who belongs to none. */
  readonly organization: { id: string; organization_name: string } | null;
}

export interface Api extends ApiClient {
  /** Logs in (expecting 200) and returns a client bound to the new token. */
  loginAs(email: string, password: string): Promise<AdminSession>;
}

type HttpOf = Pick<TestApp, 'http'>;

function client(t: HttpOf, token?: string): ApiClient {
  const auth = (req: Test): Test =>
    token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
  const get = (path: string, query?: Query) =>
    auth(
      t
        .http()
        .get(path)
        .query(query ?? {}),
    );
  const send = (method: 'post' | 'put' | 'patch', path: string, body: object) =>
    auth(t.http()[method](path).send(body));
  const del = (path: string) => auth(t.http().delete(path));

  return {
    token,
    as: (other) => client(t, other),
    createOrg: (body) => send('post', '/org/create', body),
    getOrg: (name) => get('/org/get', { organization_name: name }),
    listOrgs: (query) => get('/org/list', query),
    update: (body) => send('put', '/org/update', body),
    rename: (newName, current) =>
      send('put', '/org/update', {
        ...(current === undefined ? {} : { organization_name: current }),
        new_organization_name: newName,
      }),
    deleteOrg: (name) => del('/org/delete').query({ organization_name: name }),
    login: (email, password) => send('post', '/admin/login', { email, password }),
    logout: () => send('post', '/admin/logout', {}),
    admins: {
      add: (body) => send('post', '/org/admins', body),
      list: () => get('/org/admins'),
      setRole: (id, role) => send('patch', `/org/admins/${id}`, { role }),
      remove: (id) => del(`/org/admins/${id}`),
    },
    members: {
      add: (body) => send('post', '/org/members', body),
      list: (query) => get('/org/members', query),
      get: (id) => get(`/org/members/${id}`),
      update: (id, body) => send('patch', `/org/members/${id}`, body),
      remove: (id) => del(`/org/members/${id}`),
    },
    audit: (query) => get('/org/audit', query),
  };
}

/** The typed client for a test app: `api.createOrg(...)`, `await api.loginAs(...)`. */
export function apiClient(t: HttpOf): Api {
  const anonymous = client(t);
  return {
    ...anonymous,
    loginAs: async (email, password) => {
      const res = await anonymous.login(email, password).expect(200);
      const body = res.body as LoginResponseView;
      return {
        ...client(t, body.access_token),
        token: body.access_token,
        adminId: body.admin.id,
        email: body.admin.email,
        role: body.admin.role,
        organization: body.organization,
      };
    },
  };
}

const PROBLEM_CONTENT_TYPE = /^application\/problem\+json/;

/**
 * Asserts that `res` is the documented error: this status, problem+json, and
 * the problem body (type, title, status, detail, instance, code, request id)
 * with this code. Returns the body for further checks.
 */
export function expectProblem(res: Response, status: number, code: ErrorCode): ProblemDetailsDto {
  expect({ status: res.status, code: (res.body as { code?: unknown }).code }).toEqual({
    status,
    code,
  });
  expect(res.headers['content-type']).toMatch(PROBLEM_CONTENT_TYPE);
  expect(res.body).toEqual({
    type: `urn:problem-type:${code.toLowerCase().replace(/_/g, '-')}`,
    title: expect.any(String),
    status,
    detail: expect.any(String),
    instance: expect.stringMatching(/^\//),
    code,
    request_id: res.headers['x-request-id'] ?? expect.any(String),
    ...('errors' in res.body ? { errors: expect.any(Array) } : {}),
  });
  const body = res.body as ProblemDetailsDto;
  for (const error of body.errors ?? []) {
    expect(error).toEqual({ field: expect.any(String), message: expect.any(String) });
  }
  return body;
}
