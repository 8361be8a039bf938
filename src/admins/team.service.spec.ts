import { Test } from '@nestjs/testing';
import { Types } from 'mongoose';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import type { RequestContext } from '../auth/request-context';
import { LockBusyError, MutexService } from '../database/mutex.service';
import { TenantAccess } from '../organizations/tenant-access.service';
import { AdminsService, type AdminRecord } from './admins.service';
import type { Admin, AdminRole } from './schemas/admin.schema';
import { TeamService } from './team.service';

const ORG_ID = new Types.ObjectId();
const ME = new Types.ObjectId();
const OTHER = new Types.ObjectId();

const LAST_OWNER = { code: 'LAST_OWNER' };
const FORBIDDEN = { code: 'FORBIDDEN' };
const BUSY = { code: 'ORG_BUSY' };

const actor = (role: AdminRole): AuthenticatedAdmin => ({
  adminId: ME,
  organizationId: ORG_ID,
  email: 'me@acme.test',
  role,
  tokenId: 'jti',
});
const as = (role: AdminRole): RequestContext => ({
  actor: actor(role),
  ip: '127.0.0.1',
  requestId: 'req',
});
const admin = (id: Types.ObjectId, role: AdminRole): Admin => ({
  _id: id,
  email: `${String(id)}@acme.test`,
  password_hash: 'hash',
  organization_id: ORG_ID,
  role,
  credentials_version: 0,
  created_at: new Date(),
  updated_at: new Date(),
});

/**
 * The admins collection of one organization, in memory: enough of
 * AdminsService for the team's reads and writes.
 */
function team(initial: Admin[]) {
  const docs = new Map(initial.map((a) => [String(a._id), a]));
  return {
    docs,
    findInOrganization: jest.fn((_org: Types.ObjectId, id: Types.ObjectId) =>
      Promise.resolve((docs.get(String(id)) as AdminRecord | undefined) ?? null),
    ),
    hasOwner: jest.fn((_org: Types.ObjectId, except?: Types.ObjectId) =>
      Promise.resolve(
        [...docs.values()].some((a) => a.role === 'owner' && !(except && a._id.equals(except))),
      ),
    ),
    setRole: jest.fn((_org: Types.ObjectId, id: Types.ObjectId, role: AdminRole) => {
      const before = docs.get(String(id));
      if (before) docs.set(String(id), { ...before, role });
      return Promise.resolve(before ?? null);
    }),
    remove: jest.fn((_org: Types.ObjectId, id: Types.ObjectId) => {
      const gone = docs.get(String(id));
      docs.delete(String(id));
      return Promise.resolve(gone ?? null);
    }),
    restore: jest.fn((doc: Admin) => {
      docs.set(String(doc._id), doc);
      return Promise.resolve();
    }),
  };
}

describe('TeamService: the last-owner rule', () => {
  let service: TeamService;
  let admins: ReturnType<typeof team>;
  let record: jest.Mock;
  let withLock: jest.Mock;
  let write: jest.Mock;

  async function build(initial: Admin[]): Promise<void> {
    admins = team(initial);
    record = jest.fn(() => Promise.resolve());
    withLock = jest.fn((_key: string, work: () => Promise<unknown>) => work());
    write = jest.fn((_principal: unknown, work: () => Promise<unknown>) => work());
    const moduleRef = await Test.createTestingModule({
      providers: [
        TeamService,
        { provide: AdminsService, useValue: admins },
        { provide: AuditService, useValue: { record } },
        { provide: MutexService, useValue: { withLock } },
        {
          provide: TenantAccess,
          useValue: { organizationIdOf: () => ORG_ID, write },
        },
      ],
    }).compile();
    service = moduleRef.get(TeamService);
  }

  afterEach(() => jest.restoreAllMocks());

  describe('changeRole', () => {
    it('refuses to demote the only owner with LAST_OWNER and writes nothing', async () => {
      await build([admin(ME, 'owner'), admin(OTHER, 'admin')]);
      await expect(service.changeRole(as('owner'), ME, 'admin')).rejects.toMatchObject(LAST_OWNER);
      expect(admins.setRole).not.toHaveBeenCalled();
      expect(record).not.toHaveBeenCalled();
    });

    it('demotes an owner while another owner remains, and audits it', async () => {
      await build([admin(ME, 'owner'), admin(OTHER, 'owner')]);
      await expect(service.changeRole(as('owner'), OTHER, 'admin')).resolves.toMatchObject({
        role: 'admin',
      });
      expect(admins.docs.get(String(OTHER))?.role).toBe('admin');
      expect(record).toHaveBeenCalledWith(
        expect.anything(),
        expect.objectContaining({ action: 'admin.role_changed' }),
      );
    });

    it('takes its demotion back when a concurrent change left no owner after the write', async () => {
      await build([admin(ME, 'owner'), admin(OTHER, 'owner')]);
      // The other owner is demoted by a holder that ran while this one was paused.
      admins.setRole.mockImplementationOnce((_org, id: Types.ObjectId, role: AdminRole) => {
        const before = admins.docs.get(String(id))!;
        admins.docs.set(String(id), { ...before, role });
        admins.docs.set(String(ME), { ...admins.docs.get(String(ME))!, role: 'admin' });
        return Promise.resolve(before);
      });
      await expect(service.changeRole(as('owner'), OTHER, 'admin')).rejects.toMatchObject(
        LAST_OWNER,
      );
      expect(admins.setRole).toHaveBeenLastCalledWith(ORG_ID, OTHER, 'owner');
      expect(admins.docs.get(String(OTHER))?.role).toBe('owner');
      expect(record).not.toHaveBeenCalled();
    });

    it('lets only owners change roles, before taking the lock', async () => {
      await build([admin(ME, 'admin'), admin(OTHER, 'owner')]);
      await expect(service.changeRole(as('admin'), ME, 'owner')).rejects.toMatchObject(FORBIDDEN);
      expect(withLock).not.toHaveBeenCalled();
    });

    it('runs the change under the team mutex and through the tenant write path', async () => {
      await build([admin(ME, 'owner'), admin(OTHER, 'admin')]);
      await service.changeRole(as('owner'), OTHER, 'owner');
      expect(withLock).toHaveBeenCalledWith(`team:${String(ORG_ID)}`, expect.any(Function), {
        ttlMs: 10_000,
      });
      expect(write).toHaveBeenCalledTimes(1);
    });

    it('writes nothing once the holder has used half the lock (paused too long)', async () => {
      await build([admin(ME, 'owner'), admin(OTHER, 'owner')]);
      let now = 1_000_000;
      jest.spyOn(Date, 'now').mockImplementation(() => now);
      admins.findInOrganization.mockImplementationOnce((_org, id: Types.ObjectId) => {
        now += 5_001;
        return Promise.resolve(admins.docs.get(String(id))!);
      });
      await expect(service.changeRole(as('owner'), OTHER, 'admin')).rejects.toMatchObject(BUSY);
      expect(admins.setRole).not.toHaveBeenCalled();
    });

    it('answers ORG_BUSY when another team change holds the mutex', async () => {
      await build([admin(ME, 'owner'), admin(OTHER, 'owner')]);
      withLock.mockRejectedValueOnce(new LockBusyError('team'));
      await expect(service.changeRole(as('owner'), OTHER, 'admin')).rejects.toMatchObject(BUSY);
    });
  });

  describe('remove', () => {
    it('refuses to remove the only owner with LAST_OWNER and removes nothing', async () => {
      await build([admin(ME, 'owner'), admin(OTHER, 'admin')]);
      await expect(service.remove(as('owner'), ME)).rejects.toMatchObject(LAST_OWNER);
      expect(admins.remove).not.toHaveBeenCalled();
    });

    it('puts the removed owner back, exactly, when a concurrent change left no owner', async () => {
      const removedOwner = admin(OTHER, 'owner');
      await build([admin(ME, 'owner'), removedOwner]);
      admins.remove.mockImplementationOnce((_org, id: Types.ObjectId) => {
        const gone = admins.docs.get(String(id))!;
        admins.docs.delete(String(id));
        admins.docs.set(String(ME), { ...admins.docs.get(String(ME))!, role: 'admin' });
        return Promise.resolve(gone);
      });
      await expect(service.remove(as('owner'), OTHER)).rejects.toMatchObject(LAST_OWNER);
      expect(admins.restore).toHaveBeenCalledWith(removedOwner);
      expect(admins.docs.get(String(OTHER))).toBe(removedOwner);
    });

    it('removes an admin without counting owners', async () => {
      await build([admin(ME, 'owner'), admin(OTHER, 'admin')]);
      await service.remove(as('owner'), OTHER);
      expect(admins.docs.has(String(OTHER))).toBe(false);
      expect(admins.hasOwner).not.toHaveBeenCalled();
    });

    it('lets an admin remove themself but nobody else', async () => {
      await build([admin(ME, 'admin'), admin(OTHER, 'owner')]);
      await expect(service.remove(as('admin'), OTHER)).rejects.toMatchObject(FORBIDDEN);
      expect(admins.remove).not.toHaveBeenCalled();
      await service.remove(as('admin'), ME);
      expect(admins.docs.has(String(ME))).toBe(false);
    });
  });
});
