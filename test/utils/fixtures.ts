import { slugify } from '../../src/organizations/organization-name';
import { TENANT_DB_PREFIX } from '../../src/database/database.constants';
import { apiClient, type AdminSession } from './api';
import type { TestApp } from './test-app';
import { uniqueSuffix } from './test-app';

export interface OrgFixture {
  name: string;
  email: string;
  password: string;
  id: string;
  token: string;
  adminId: string;
  /** The API on behalf of the owner, bound to `token`. */
  owner: AdminSession;
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

/** The tenant database the service gives an organization of this name. */
export const tenantDbNameOf = (organizationName: string) =>
  `${TENANT_DB_PREFIX}${slugify(organizationName)}`;

/** Creates an organization over HTTP and logs its owner in. */
export async function createOrg(t: Pick<TestApp, 'http'>, prefix = 'Org'): Promise<OrgFixture> {
  const input = newOrgInput(prefix);
  const api = apiClient(t);
  const created = await api.createOrg(input).expect(201);
  const owner = await api.loginAs(input.email, input.password);
  return {
    name: input.organization_name,
    email: input.email,
    password: input.password,
    id: created.body.id as string,
    adminId: created.body.admin.id as string,
    token: owner.token,
    owner,
  };
}

/** For raw requests, the ones whose point is the exact bytes sent. */
export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
