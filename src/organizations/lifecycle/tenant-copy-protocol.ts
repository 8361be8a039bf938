import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { operationInterrupted } from '../../common/errors/domain.error';
import type { TenantLocation } from '../../database/tenant-connection.factory';
import { ownedBy, TenantOwnership } from '../../database/tenant-ownership';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization, PendingOperation } from '../schemas/organization.schema';
import { OperationJournal } from './operation-journal';
import { OperationLedger, type OperationLease, type Outcome } from './operation-ledger';
import { isInterruption, OperationRecords } from './operation-records';

/** What one copying operation (rename, move) does at the steps the protocol leaves to it. */
export interface CopySteps {
  /** Finishes a committed operation from its switched record: drops the source, releases names. */
  finish(org: OrganizationRecord, lease: OperationLease): Promise<OrganizationRecord>;
  /** Undoes an operation that did not commit. */
  undo(org: OrganizationRecord, lease: OperationLease, reason: unknown): Promise<void>;
  /** The switch itself: the record's fields that point the organization at the copy. */
  switchedFields(op: PendingOperation): Record<string, unknown>;
}

/**
 * The part of the copy-then-switch protocol that a rename and a move share:
 * the decision after a failure, recovery by that decision, the switch (one
 * single-document write), and the fenced drops of the source after a commit
 * and of the target after an abort. Each drop re-reads ownership right
 * before it (TenantOwnership.dropIf).
 */
@Injectable()
export class TenantCopyProtocol {
  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    private readonly ledger: OperationLedger,
    private readonly records: OperationRecords,
    private readonly ownership: TenantOwnership,
    private readonly journal: OperationJournal,
  ) {}

  /**
   * After the worker's own failure: recovery decides (abort unless someone
   * committed), and the client gets `answer`, or the finished organization
   * when a commit was rolled forward by this recovery.
   */
  async failed(
    steps: CopySteps,
    lease: OperationLease,
    organizationId: Types.ObjectId,
    error: unknown,
    answer: unknown,
  ): Promise<OrganizationRecord> {
    const outcome = await this.records.afterFailure(lease, error, (org, own) =>
      this.recover(steps, org, own, answer),
    );
    if (outcome === 'commit' && !isInterruption(error)) {
      const done = await this.organizations
        .findById(organizationId)
        .lean<OrganizationRecord>()
        .exec();
      if (done) return done;
    }
    throw answer;
  }

  /**
   * Finishes a committed operation or undoes one that was not. `reason`: what
   * the worker answers its client, recorded as a rolled-back operation's
   * error (repair has none: the instance stopped).
   */
  async recover(
    steps: CopySteps,
    org: OrganizationRecord,
    lease: OperationLease,
    reason?: unknown,
  ): Promise<Outcome> {
    const outcome = await this.ledger.decide(lease, 'abort');
    if (outcome === 'commit') await steps.finish(await this.switch(steps, lease), lease);
    else await steps.undo(org, lease, reason);
    return outcome;
  }

  /** The switch: one single-document write points the organization at its copy. */
  async switch(steps: CopySteps, lease: OperationLease): Promise<OrganizationRecord> {
    const org = await this.records.findPending(lease);
    if (!org) throw operationInterrupted();
    const op = org.pending as PendingOperation;
    await this.ledger.assertCurrent(lease);
    const switched = await this.organizations
      .findOneAndUpdate(
        { _id: org._id, 'pending.op_id': op.op_id },
        {
          $set: {
            ...steps.switchedFields(op),
            'pending.step': 'dropping_source',
            'pending.lease_until': this.ledger.leaseDeadline(),
          },
        },
        { returnDocument: 'after' },
      )
      .lean<OrganizationRecord>()
      .exec();
    if (!switched) throw operationInterrupted();
    return switched;
  }

  /**
   * Drops the source after a commit: the organization's, made by an earlier
   * operation, never the copy this one just made (two names may reach one server).
   */
  async dropSource(org: OrganizationRecord, lease: OperationLease, source: TenantLocation) {
    const opId = (org.pending as PendingOperation).op_id;
    await this.ledger.renew(lease);
    await this.ledger.keepAlive(lease, () =>
      this.ownership.dropIf(
        source,
        (owner) => ownedBy(org._id)(owner) && owner.kind === 'owned' && owner.opId !== opId,
        () => this.ledger.assertFresh(lease),
      ),
    );
  }

  /** Drops the target after an abort: only what this very operation made. */
  async dropTarget(org: OrganizationRecord, lease: OperationLease, target: TenantLocation) {
    await this.ledger.renew(lease);
    await this.ledger.keepAlive(lease, () =>
      this.ownership.dropIf(target, ownedBy(org._id, lease.opId), () =>
        this.ledger.assertFresh(lease),
      ),
    );
  }

  /** Records the outcome on the operation resource and releases the organization. */
  async succeed(org: OrganizationRecord, lease: OperationLease): Promise<OrganizationRecord> {
    await this.journal.succeed(lease, org);
    return this.records.close(lease);
  }

  async fail(lease: OperationLease, reason: unknown): Promise<void> {
    await this.journal.fail(lease, reason);
    await this.records.close(lease);
  }
}
