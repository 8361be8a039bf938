import { Types } from 'mongoose';
import { ErrorCode } from '../../common/errors/error-codes';
import type { OrganizationRecord } from '../organizations.repository';
import type { OperationType } from '../schemas/organization.schema';
import { MoveOrganizationOperation } from './move-organization.operation';

const ORG_ID = new Types.ObjectId();

const record = (
  cluster: string | null,
  pending: OperationType | null = null,
  database_name = 'org_acme',
): OrganizationRecord => ({
  _id: ORG_ID,
  name: 'Acme',
  slug: 'acme',
  database_name,
  cluster,
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
});

/**
 * The refusals a move decides before it holds the organization: nothing is
 * recorded and no fence is taken for any of them.
 */
describe('MoveOrganizationOperation: before anything is recorded', () => {
  let current: OrganizationRecord | null;
  let fresh: OrganizationRecord;
  let open: jest.Mock;
  let whileIdle: jest.Mock;
  let move: MoveOrganizationOperation;

  beforeEach(() => {
    current = record(null);
    fresh = record(null);
    open = jest.fn(() => Promise.reject(new Error('not under test')));
    whileIdle = jest.fn(
      (_id: Types.ObjectId, _set: unknown, check: (o: OrganizationRecord) => void) =>
        Promise.resolve().then(() => {
          check(fresh);
          return fresh;
        }),
    );
    const organizations = {
      findById: () => ({ lean: () => ({ exec: () => Promise.resolve(current) }) }),
    };
    const records = {
      newOperation: (_t: string, _s: string, extra: object) => ({ ...extra }),
      whileIdle,
    };
    const unused = {} as never;
    move = new MoveOrganizationOperation(
      organizations as never,
      unused,
      records as never,
      unused,
      { open } as never,
      unused,
      unused,
      unused,
      unused,
      unused,
      unused,
      unused,
      unused,
    );
  });

  it.each<[string, () => void, ErrorCode]>([
    ['an unknown organization', () => (current = null), ErrorCode.ORG_NOT_FOUND],
    ['one being created', () => (current = record(null, 'create')), ErrorCode.ORG_NOT_FOUND],
    ['one being deleted', () => (current = record(null, 'delete')), ErrorCode.ORG_NOT_FOUND],
    ['the cluster it is on (null is default)', () => undefined, ErrorCode.ALREADY_THERE],
  ])('refuses %s', async (_, arrange, code) => {
    arrange();
    await expect(move.run(ORG_ID, 'default')).rejects.toMatchObject({ code });
    expect(whileIdle).not.toHaveBeenCalled();
    expect(open).not.toHaveBeenCalled();
  });

  it.each<[string, OrganizationRecord, ErrorCode]>([
    ['renamed', record(null, null, 'org_other'), ErrorCode.ORG_BUSY],
    ['moved there', record('eu-1'), ErrorCode.ALREADY_THERE],
  ])(
    'refuses under the lock when the organization was %s while it waited',
    async (_, meanwhile, code) => {
      fresh = meanwhile;
      await expect(move.run(ORG_ID, 'eu-1')).rejects.toMatchObject({ code });
      expect(open).not.toHaveBeenCalled();
    },
  );

  it('records the source and target of the move under the lock', async () => {
    await expect(move.run(ORG_ID, 'eu-1')).rejects.toThrow('not under test');
    const [, set] = whileIdle.mock.calls[0] as [unknown, { pending: object }];
    expect(set.pending).toMatchObject({
      target_cluster: 'eu-1',
      source_cluster: 'default',
      source_database: 'org_acme',
      target_database: 'org_acme',
    });
  });
});
