import { Test } from '@nestjs/testing';
import { Types } from 'mongoose';
import { AdminsService } from '../admins/admins.service';
import { PasswordConfirmation } from '../admins/password-confirmation.service';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import type { AdminRole } from '../admins/schemas/admin.schema';
import { DomainError, orgBusy } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../auth/request-context';
import { authConfig, type AuthConfig } from '../config/configuration';
import { ClusterConnections, clusterUnavailable } from '../database/cluster-connections';
import { ClusterPlacement } from './cluster-placement';
import { CreateOrganizationOperation } from './lifecycle/create-organization.operation';
import { DeleteOrganizationOperation } from './lifecycle/delete-organization.operation';
import { RenameOrganizationOperation } from './lifecycle/rename-organization.operation';
import { OrganizationsRepository, type OrganizationRecord } from './organizations.repository';
import { LongOperations } from './long-operations.service';
import { OrganizationsService } from './organizations.service';
import { TenantAccess } from './tenant-access.service';

const ACME = new Types.ObjectId();
const GLOBEX = new Types.ObjectId();

const acme: OrganizationRecord = {
  _id: ACME,
  name: 'Acme Inc',
  slug: 'acme_inc',
  database_name: 'org_acme_inc',
  cluster: null,
  pending: null,
  created_at: new Date(),
  updated_at: new Date(),
};
const owner = { _id: new Types.ObjectId(), email: 'owner@acme.test' };
const dto = { organization_name: 'Acme Inc', email: 'owner@acme.test', password: 'long password' };

const context = (
  role?: AdminRole,
  organizationId: Types.ObjectId | null = ACME,
): RequestContext => ({
  actor:
    role &&
    ({
      adminId: new Types.ObjectId(),
      organizationId: role === 'superadmin' ? null : organizationId,
      email: 'someone@example.test',
      role,
      tokenId: 'jti',
    } satisfies AuthenticatedAdmin),
  ip: '127.0.0.1',
  requestId: 'req',
});

const codeOf = (code: ErrorCode) => ({ code });

describe('OrganizationsService: who may create and delete', () => {
  let service: OrganizationsService;
  let create: jest.Mock;
  let remove: jest.Mock;
  let findLiveBySlug: jest.Mock;
  let record: jest.Mock;
  let choose: jest.Mock;
  let clusterConnection: jest.Mock;

  async function build(orgCreatePolicy: AuthConfig['orgCreatePolicy']): Promise<void> {
    create = jest.fn(() => Promise.resolve({ organization: acme, owner }));
    remove = jest.fn(() => Promise.resolve(acme));
    findLiveBySlug = jest.fn((slug: string) => Promise.resolve(slug === acme.slug ? acme : null));
    record = jest.fn(() => Promise.resolve());
    choose = jest.fn((requested?: string) => Promise.resolve(requested ?? 'default'));
    clusterConnection = jest.fn(() => Promise.resolve({}));
    const moduleRef = await Test.createTestingModule({
      providers: [
        OrganizationsService,
        { provide: OrganizationsRepository, useValue: {} },
        { provide: CreateOrganizationOperation, useValue: { run: create } },
        { provide: RenameOrganizationOperation, useValue: {} },
        { provide: DeleteOrganizationOperation, useValue: { run: remove } },
        { provide: AdminsService, useValue: {} },
        { provide: PasswordConfirmation, useValue: {} },
        { provide: AuditService, useValue: { record } },
        { provide: TenantAccess, useValue: { findLiveBySlug } },
        { provide: ClusterPlacement, useValue: { choose } },
        { provide: ClusterConnections, useValue: { connection: clusterConnection } },
        // Within the budget: the request answers with the work's own result.
        {
          provide: LongOperations,
          useValue: {
            run: async (_request: unknown, work: (origin: unknown) => Promise<unknown>) => ({
              done: await work({}),
            }),
          },
        },
        { provide: authConfig.KEY, useValue: { orgCreatePolicy } },
      ],
    }).compile();
    service = moduleRef.get(OrganizationsService);
  }

  describe('create', () => {
    it('lets anyone create under the public policy, and audits the creation', async () => {
      await build('public');
      const view = await service.create(context(), dto);
      expect(create).toHaveBeenCalledWith({
        name: 'Acme Inc',
        email: 'owner@acme.test',
        password: 'long password',
        cluster: 'default',
      });
      expect(view).toMatchObject({ organization_name: 'Acme Inc', admin: { email: owner.email } });
      expect(record).toHaveBeenCalledWith(
        expect.anything(),
        expect.objectContaining({ action: 'organization.created', organizationId: ACME }),
      );
    });

    it.each<[string, AdminRole | undefined, ErrorCode]>([
      ['an anonymous caller with 401', undefined, ErrorCode.UNAUTHORIZED],
      ['an organization owner with 403', 'owner', ErrorCode.FORBIDDEN],
      ['an organization admin with 403', 'admin', ErrorCode.FORBIDDEN],
    ])('under the superadmin policy refuses %s, creating nothing', async (_, role, code) => {
      await build('superadmin');
      await expect(service.create(context(role), dto)).rejects.toMatchObject(codeOf(code));
      expect(create).not.toHaveBeenCalled();
      expect(record).not.toHaveBeenCalled();
    });

    it('under the superadmin policy lets the super admin create', async () => {
      await build('superadmin');
      await service.create(context('superadmin'), dto);
      expect(create).toHaveBeenCalledTimes(1);
    });

    it('lets the super admin choose the cluster, and audits it', async () => {
      await build('public');
      create.mockResolvedValueOnce({ organization: { ...acme, cluster: 'eu-2' }, owner });
      const view = await service.create(context('superadmin'), { ...dto, cluster: 'eu-2' });
      expect(choose).toHaveBeenCalledWith('eu-2');
      expect(create).toHaveBeenCalledWith(expect.objectContaining({ cluster: 'eu-2' }));
      expect(view).toMatchObject({ cluster: 'eu-2' });
      expect(record).toHaveBeenCalledWith(
        expect.anything(),
        expect.objectContaining({ details: expect.objectContaining({ cluster: 'eu-2' }) }),
      );
    });

    it.each<[string, AdminRole | undefined]>([
      ['an anonymous caller', undefined],
      ['an organization owner', 'owner'],
    ])('refuses %s a cluster of its choosing with 403, creating nothing', async (_, role) => {
      await build('public');
      await expect(
        service.create(context(role), { ...dto, cluster: 'default' }),
      ).rejects.toMatchObject(codeOf(ErrorCode.FORBIDDEN));
      expect(choose).not.toHaveBeenCalled();
      expect(create).not.toHaveBeenCalled();
    });

    it('refuses with 503 before recording anything when the chosen cluster is down', async () => {
      await build('public');
      clusterConnection.mockRejectedValueOnce(clusterUnavailable());
      await expect(service.create(context(), dto)).rejects.toMatchObject(
        codeOf(ErrorCode.SERVICE_UNAVAILABLE),
      );
      expect(create).not.toHaveBeenCalled();
    });

    it.each([ErrorCode.ORG_NAME_TAKEN, ErrorCode.EMAIL_TAKEN])(
      'passes a %s conflict through and audits nothing',
      async (code) => {
        await build('public');
        create.mockRejectedValueOnce(new DomainError(code, 'taken'));
        await expect(service.create(context(), dto)).rejects.toMatchObject(codeOf(code));
        expect(record).not.toHaveBeenCalled();
      },
    );
  });

  describe('delete', () => {
    beforeEach(() => build('public'));

    it('lets an owner delete their own organization, found by any spelling of its name', async () => {
      await expect(service.delete(context('owner'), '  ACME inc ')).resolves.toEqual({
        done: { organization_name: 'Acme Inc', deleted: true },
      });
      expect(findLiveBySlug).toHaveBeenCalledWith('acme_inc');
      expect(remove).toHaveBeenCalledWith(ACME, expect.anything());
      expect(record).toHaveBeenCalledWith(
        expect.anything(),
        expect.objectContaining({ action: 'organization.deleted', organizationId: ACME }),
      );
    });

    it('lets the super admin delete any organization', async () => {
      await service.delete(context('superadmin'), 'Acme Inc');
      expect(remove).toHaveBeenCalledWith(ACME, expect.anything());
    });

    it.each<[string, AdminRole, Types.ObjectId]>([
      ['an owner of another organization', 'owner', GLOBEX],
      ['an admin (not an owner) of the organization', 'admin', ACME],
    ])('refuses %s with 403 and deletes nothing', async (_, role, organizationId) => {
      await expect(service.delete(context(role, organizationId), 'Acme Inc')).rejects.toMatchObject(
        codeOf(ErrorCode.FORBIDDEN),
      );
      expect(remove).not.toHaveBeenCalled();
    });

    it('answers 404 for an organization that is not live, whoever asks', async () => {
      await expect(service.delete(context('superadmin'), 'Globex')).rejects.toMatchObject(
        codeOf(ErrorCode.ORG_NOT_FOUND),
      );
      expect(remove).not.toHaveBeenCalled();
    });

    it('passes ORG_BUSY through when a rename or delete holds it, and audits nothing', async () => {
      remove.mockRejectedValueOnce(orgBusy());
      await expect(service.delete(context('owner'), 'Acme Inc')).rejects.toMatchObject(
        codeOf(ErrorCode.ORG_BUSY),
      );
      expect(record).not.toHaveBeenCalled();
    });
  });
});
