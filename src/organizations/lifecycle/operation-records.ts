import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import {
  DomainError,
  operationInterrupted,
  orgBusy,
  orgNotFound,
} from '../../common/errors/domain.error';
import { ErrorCode } from '../../common/errors/error-codes';
import { LockBusyError, MutexService } from '../../database/mutex.service';
import type { OrganizationRecord } from '../organizations.repository';
import {
  Organization,
  PendingOperation,
  type OperationStep,
  type OperationType,
} from '../schemas/organization.schema';
import { OperationLedger, type OperationLease, type Outcome } from './operation-ledger';

export const isInterruption = (error: unknown) =>
  error instanceof DomainError && error.code === ErrorCode.OPERATION_INTERRUPTED;

/**
 * The organization record's side of every operation: record it (which also
 * locks the organization), move its step along, and end it. Shared by the
 * create, rename and delete operations and by repair.
 */
@Injectable()
export class OperationRecords {
  private readonly logger = new Logger(OperationRecords.name);

  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    private readonly ledger: OperationLedger,
    private readonly mutex: MutexService,
  ) {}

  newOperation(
    type: OperationType,
    step: OperationStep,
    extra: Partial<PendingOperation> = {},
  ): PendingOperation {
    return {
      op_id: randomUUID(),
      type,
      step,
      fence: 1,
      started_at: new Date(),
      lease_until: this.ledger.leaseDeadline(),
      ...extra,
    };
  }

  /**
   * Applies `set` only if no operation holds the organization: the check and
   * the write run under the organization's mutex, because a conditional
   * update alone is not atomic on FerretDB (the write stays conditional too,
   * for a mutex holder that stalled past the lock's life).
   */
  async whileIdle(
    organizationId: Types.ObjectId,
    set: Partial<Organization>,
    check?: (current: OrganizationRecord) => void,
  ): Promise<OrganizationRecord> {
    try {
      return await this.mutex.withLock(`organization:${String(organizationId)}`, async () => {
        const current = await this.organizations
          .findById(organizationId)
          .lean<OrganizationRecord>()
          .exec();
        if (!current) throw orgNotFound();
        if (current.pending) throw orgBusy();
        check?.(current);
        const updated = await this.organizations
          .findOneAndUpdate(
            { _id: organizationId, pending: null },
            { $set: set },
            { returnDocument: 'after' },
          )
          .lean<OrganizationRecord>()
          .exec();
        if (!updated) throw orgBusy();
        return updated;
      });
    } catch (error) {
      if (error instanceof LockBusyError) throw orgBusy();
      throw error;
    }
  }

  async advance(lease: OperationLease, step: OperationStep): Promise<void> {
    await this.ledger.assertCurrent(lease);
    await this.organizations
      .updateOne(
        { _id: lease.organizationId, 'pending.op_id': lease.opId },
        { $set: { 'pending.step': step, 'pending.lease_until': this.ledger.leaseDeadline() } },
      )
      .exec();
  }

  /** Ends the operation: the organization is idle (or, for create, live) again. */
  async close(lease: OperationLease): Promise<OrganizationRecord> {
    await this.ledger.assertCurrent(lease);
    const done = await this.organizations
      .findOneAndUpdate(
        { _id: lease.organizationId, 'pending.op_id': lease.opId },
        { $set: { pending: null } },
        { returnDocument: 'after' },
      )
      .lean<OrganizationRecord>()
      .exec();
    if (!done) throw operationInterrupted();
    return done;
  }

  /** The organization while `lease`'s operation is still recorded on it, else null. */
  findPending(lease: OperationLease): Promise<OrganizationRecord | null> {
    return this.organizations
      .findOne({ _id: lease.organizationId, 'pending.op_id': lease.opId })
      .lean<OrganizationRecord>()
      .exec();
  }

  /**
   * After an error in-process: put things right now rather than at the next
   * sweep, unless the operation was taken over (then it is not ours to
   * touch). Returns the outcome that stands, or null if unknown.
   */
  async afterFailure(
    lease: OperationLease,
    error: unknown,
    recover: (org: OrganizationRecord, lease: OperationLease) => Promise<Outcome>,
  ): Promise<Outcome | null> {
    if (isInterruption(error)) return null;
    try {
      const org = await this.findPending(lease);
      return org ? await recover(org, lease) : await this.ledger.outcomeOf(lease.opId);
    } catch (recoveryError) {
      this.logger.error(
        { err: recoveryError, organization_id: lease.organizationId },
        'Recovery failed; repair will retry',
      );
      return null;
    }
  }
}
