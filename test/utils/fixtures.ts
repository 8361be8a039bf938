import type { TestApp } from './test-app';
import { uniqueSuffix } from './test-app';

export interface OrgFixture {
  name: string;
  email: string;
  password: string;
  id: string;
  token: string;
  adminId: string;
}

export const PASSWORD = 'correct horse battery staple';

export function newOrgInput(prefix = 'Org') {
  const suffix = uniqueSuffix();
  return {
    organization_name: `${prefix} ${suffix}`,
    email: `owner-${suffix}@example.test`,
    password: PASSWORD,
  };
}

/** Creates an organization over HTTP and logs its owner in. */
export async function createOrg(t: TestApp, prefix = 'Org'): Promise<OrgFixture> {
  const input = newOrgInput(prefix);
  const created = await t.http().post('/org/create').send(input).expect(201);
  const login = await t
    .http()
    .post('/admin/login')
    .send({ email: input.email, password: input.password })
    .expect(200);
  return {
    name: input.organization_name,
    email: input.email,
    password: input.password,
    id: created.body.id as string,
    adminId: created.body.admin.id as string,
    token: login.body.access_token as string,
  };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
