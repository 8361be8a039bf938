import { setTimeout as sleep } from 'node:timers/promises';
import { Types } from 'mongoose';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { orgBusy } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { DatabaseConfig } from '../config/configuration';
import type { OperationView } from './dto/operation.view';
import type { EndedSession } from '../auth/ended-session';
import type {
  OperationJournal,
  OperationOrigin,
  StoredOperation,
} from './lifecycle/operation-journal';
import { LongOperations, type LongRequest } from './long-operations.service';

const ORG = new Types.ObjectId();
const STARTED = new Date('2026-01-01T00:00:00Z');

const operation = (status: OperationView['status'] = 'running'): OperationView => ({
  id: 'op-1',
  type: 'rename',
  organization_name: 'Acme Inc',
  status,
  progress: { documents_copied: 0, documents_total: 10 },
  started_at: STARTED,
  finished_at: null,
});

const request = (respondAsync: boolean): LongRequest => ({
  respondAsync,
  origin: { admin: { id: 'a', email: 'owner@acme.test' }, instance: '/org/update', requestId: 'r' },
});

const viewer = (role: AuthenticatedAdmin['role'], organizationId: Types.ObjectId | null) =>
  ({
    adminId: new Types.ObjectId(),
    organizationId,
    email: 'x@example.test',
    role,
    tokenId: 'jti',
  }) satisfies AuthenticatedAdmin;

/** An admin of ORG whose session a delete ended, at credentials version 3. */
const FORMER = { id: new Types.ObjectId(), ver: 3 };

describe('LongOperations', () => {
  let stored: StoredOperation | null;
  let longOps: LongOperations;

  beforeEach(() => {
    stored = {
      view: { ...operation(), progress: { documents_copied: 4, documents_total: 10 } },
      organizationId: ORG,
      formerAdmins: [FORMER],
    };
    const journal = { find: jest.fn(() => Promise.resolve(stored)) };
    longOps = new LongOperations(
      journal as unknown as OperationJournal,
      { syncOperationBudgetMs: 50 } as DatabaseConfig,
    );
  });

  /** Work that records its operation at once and ends after `ms`. */
  const work =
    (ms: number, outcome: () => unknown = () => 'renamed') =>
    async (origin: OperationOrigin) => {
      origin.recorded?.(operation());
      await sleep(ms);
      return outcome();
    };

  it('answers with the result when the work ends within the budget', async () => {
    await expect(longOps.run(request(false), work(5))).resolves.toEqual({ done: 'renamed' });
  });

  it('answers with the operation as it is now once the budget is spent, and the work goes on', async () => {
    let finished = false;
    const answer = await longOps.run(request(false), async (origin) => {
      await work(200)(origin);
      finished = true;
    });
    expect(answer).toEqual({ accepted: expect.objectContaining({ id: 'op-1' }) });
    // The current state.
    expect(answer).toMatchObject({ accepted: { progress: { documents_copied: 4 } } });
    expect(finished).toBe(false);
    await sleep(250);
    expect(finished).toBe(true);
  });

  it('answers at once with respond-async, as soon as the operation is recorded', async () => {
    const started = Date.now();
    const answer = await longOps.run(request(true), work(1000));
    expect(answer).toEqual({ accepted: operation() });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('answers a failure before the operation is recorded with that failure, even with respond-async', async () => {
    await expect(longOps.run(request(true), () => Promise.reject(orgBusy()))).rejects.toMatchObject(
      { code: ErrorCode.ORG_BUSY },
    );
  });

  it('keeps a failure after the 202 to the operation resource (no unhandled rejection)', async () => {
    const answer = await longOps.run(
      request(true),
      work(10, () => {
        throw orgBusy();
      }),
    );
    expect('accepted' in answer).toBe(true);
    await sleep(30);
  });

  describe('find', () => {
    it.each([
      ['an admin of the organization', viewer('admin', ORG)],
      ['the super admin', viewer('superadmin', null)],
    ])('shows the operation to %s', async (_, who) => {
      await expect(longOps.find(who, 'op-1')).resolves.toMatchObject({ id: 'op-1' });
    });

    it("answers 404, not 403, to another organization's owner", async () => {
      await expect(
        longOps.find(viewer('owner', new Types.ObjectId()), 'op-1'),
      ).rejects.toMatchObject({ code: ErrorCode.OPERATION_NOT_FOUND });
    });

    const ended = (adminId: Types.ObjectId, organizationId: Types.ObjectId, ver: number) =>
      ({
        ended: true,
        adminId,
        organizationId,
        credentialsVersion: ver,
        tokenId: 'jti',
      }) satisfies EndedSession;

    it('shows a delete to an admin whose session it ended, with the token of that session', async () => {
      await expect(longOps.find(ended(FORMER.id, ORG, FORMER.ver), 'op-1')).resolves.toMatchObject({
        id: 'op-1',
      });
    });

    it.each([
      ['an admin it did not end', ended(new Types.ObjectId(), ORG, 0)],
      ['a token from before a credentials change', ended(FORMER.id, ORG, FORMER.ver - 1)],
      ['the same admin id under another organization', ended(FORMER.id, new Types.ObjectId(), 3)],
    ])('answers 404 to an ended session of %s', async (_, who) => {
      await expect(longOps.find(who, 'op-1')).rejects.toMatchObject({
        code: ErrorCode.OPERATION_NOT_FOUND,
      });
    });

    it('answers 404 for an unknown or expired operation', async () => {
      stored = null;
      await expect(longOps.find(viewer('superadmin', null), 'op-1')).rejects.toMatchObject({
        code: ErrorCode.OPERATION_NOT_FOUND,
      });
    });
  });
});
