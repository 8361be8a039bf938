import { Test } from '@nestjs/testing';
import { Types } from 'mongoose';
import { TenantWriteFence } from '../database/tenant-write-fence';
import { OrganizationsRepository, type OrganizationRecord } from './organizations.repository';
import type { OperationType } from './schemas/organization.schema';
import { TenantAccess, type AccessIntent } from './tenant-access.service';

const ORG_ID = new Types.ObjectId();
const member = { organizationId: ORG_ID };
const superAdmin = { organizationId: null };

function record(pending: OperationType | null = null): OrganizationRecord {
  return {
    _id: ORG_ID,
    name: 'Acme',
    slug: 'acme',
    database_name: 'org_acme',
    cluster: null,
    pending: pending && {
      op_id: 'op',
      type: pending,
      step: 'copying',
      fence: 1,
      started_at: new Date(),
      lease_until: new Date(),
    },
    created_at: new Date(),
    updated_at: new Date(),
  };
}

const FORBIDDEN = { code: 'FORBIDDEN' };
const NOT_FOUND = { code: 'ORG_NOT_FOUND' };
const BUSY = { code: 'ORG_BUSY' };

describe('TenantAccess', () => {
  let access: TenantAccess;
  let findById: jest.Mock<Promise<OrganizationRecord | null>, [Types.ObjectId]>;
  let findBySlug: jest.Mock<Promise<OrganizationRecord | null>, [string]>;
  /** The fence's contract: the admission check runs before the write, and a refusal stops it. */
  let run: jest.Mock;

  beforeEach(async () => {
    findById = jest.fn();
    findBySlug = jest.fn();
    run = jest.fn(async (_id: Types.ObjectId, admit: () => Promise<void>, write: () => unknown) => {
      await admit();
      return write();
    });
    const moduleRef = await Test.createTestingModule({
      providers: [
        TenantAccess,
        { provide: OrganizationsRepository, useValue: { findById, findBySlug } },
        { provide: TenantWriteFence, useValue: { run } },
      ],
    }).compile();
    access = moduleRef.get(TenantAccess);
  });

  describe.each<AccessIntent>(['read', 'write'])('organizationFor(%s)', (intent) => {
    it('refuses the super admin with 403 without looking anything up', async () => {
      await expect(access.organizationFor(superAdmin, intent)).rejects.toMatchObject(FORBIDDEN);
      await expect(access.organizationFor(undefined, intent)).rejects.toMatchObject(FORBIDDEN);
      expect(findById).not.toHaveBeenCalled();
    });

    it('answers 404 when the organization record is gone', async () => {
      findById.mockResolvedValue(null);
      await expect(access.organizationFor(member, intent)).rejects.toMatchObject(NOT_FOUND);
      expect(findById).toHaveBeenCalledWith(ORG_ID);
    });

    it.each<OperationType>(['create', 'delete'])(
      'answers 404 while a %s holds the organization (it does not exist for clients)',
      async (pending) => {
        findById.mockResolvedValue(record(pending));
        await expect(access.organizationFor(member, intent)).rejects.toMatchObject(NOT_FOUND);
      },
    );

    it('gives an idle organization with where its data lives', async () => {
      findById.mockResolvedValue(record());
      const org = await access.organizationFor(member, intent);
      expect(org._id).toBe(ORG_ID);
      expect(org.location).toEqual({ databaseName: 'org_acme', cluster: 'default' });
    });
  });

  it('lets a renaming organization be read but refuses writes with 409 ORG_BUSY', async () => {
    findById.mockResolvedValue(record('rename'));
    await expect(access.organizationFor(member, 'read')).resolves.toMatchObject({ slug: 'acme' });
    await expect(access.organizationFor(member, 'write')).rejects.toMatchObject(BUSY);
  });

  describe('findLive', () => {
    it('is null, not an error, for an organization clients cannot see', async () => {
      findById.mockResolvedValueOnce(null).mockResolvedValueOnce(record('delete'));
      await expect(access.findLive(ORG_ID)).resolves.toBeNull();
      await expect(access.findLive(ORG_ID)).resolves.toBeNull();
    });
  });

  describe('write', () => {
    it('runs the work through the fence for the caller organization, with the admitted record', async () => {
      findById.mockResolvedValue(record());
      const work = jest.fn((org: { location: { databaseName: string } }) =>
        Promise.resolve(org.location.databaseName),
      );
      await expect(access.write(member, work)).resolves.toBe('org_acme');
      expect(run).toHaveBeenCalledWith(
        ORG_ID,
        expect.any(Function),
        expect.any(Function),
        undefined,
      );
      expect(work).toHaveBeenCalledTimes(1);
    });

    it('resolves the organization inside the fence, after the intent is registered', async () => {
      findById.mockResolvedValue(record());
      run.mockImplementationOnce(async (_id, admit: () => Promise<void>, write: () => unknown) => {
        expect(findById).not.toHaveBeenCalled();
        await admit();
        return write();
      });
      await access.write(member, () => Promise.resolve());
      expect(findById).toHaveBeenCalledTimes(1);
    });

    it.each<[string, OperationType | null, object]>([
      ['a rename in flight', 'rename', BUSY],
      ['a delete in flight', 'delete', NOT_FOUND],
    ])('never runs the work during %s', async (_, pending, error) => {
      findById.mockResolvedValue(record(pending));
      const work = jest.fn(() => Promise.resolve());
      await expect(access.write(member, work)).rejects.toMatchObject(error);
      expect(work).not.toHaveBeenCalled();
    });

    it('refuses the super admin before registering any write intent', async () => {
      await expect(access.write(superAdmin, () => Promise.resolve())).rejects.toMatchObject(
        FORBIDDEN,
      );
      expect(run).not.toHaveBeenCalled();
    });

    it('hands a stray write the organization it was admitted to', async () => {
      findById.mockResolvedValue(record());
      const stray = jest.fn(() => Promise.resolve());
      run.mockImplementationOnce(
        async (
          _id,
          admit: () => Promise<void>,
          write: () => Promise<unknown>,
          onStray: (result: unknown) => Promise<void>,
        ) => {
          await admit();
          await onStray(await write());
          return 'late';
        },
      );
      await access.write(member, () => Promise.resolve('written'), stray);
      expect(stray).toHaveBeenCalledWith(
        'written',
        expect.objectContaining({ location: { databaseName: 'org_acme', cluster: 'default' } }),
      );
    });
  });

  describe('findLiveBySlugFor', () => {
    it("reuses the caller's organization as the token check read it when the slug is its", async () => {
      findById.mockResolvedValue(record());
      const own = (await access.findLive(ORG_ID))!;
      await expect(
        access.findLiveBySlugFor('acme', { organizationId: ORG_ID, organization: own }),
      ).resolves.toBe(own);
      expect(findBySlug).not.toHaveBeenCalled();
    });

    it('reads by slug for any other name, or a caller without a loaded organization', async () => {
      findBySlug.mockResolvedValue({ ...record(), slug: 'other' });
      findById.mockResolvedValue(record());
      const own = (await access.findLive(ORG_ID))!;
      await access.findLiveBySlugFor('other', { organizationId: ORG_ID, organization: own });
      await access.findLiveBySlugFor('acme', member);
      expect(findBySlug.mock.calls).toEqual([['other'], ['acme']]);
    });
  });
});
