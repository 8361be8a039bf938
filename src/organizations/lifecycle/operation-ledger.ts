import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectConnection, InjectModel } from '@nestjs/mongoose';
import type { Collection } from 'mongodb';
import { Connection, Model, Types } from 'mongoose';
import { operationInterrupted } from '../../common/errors/domain.error';
import { databaseConfig, type DatabaseConfig } from '../../config/configuration';
import { isDuplicateKeyError } from '../../common/errors/mongo-errors';
import { Organization, type OperationType } from '../schemas/organization.schema';

interface FenceDocument {
  _id: string;
  op_id: string;
  fence: number;
  organization_id: Types.ObjectId;
  claimed_at: Date;
}

export type Outcome = 'commit' | 'abort';

interface DecisionDocument {
  _id: string;
  organization_id: Types.ObjectId;
  type: OperationType;
  outcome: Outcome;
  decided_at: Date;
}

/** Who may act for an operation: the holder of its highest fencing token. */
export interface OperationLease {
  readonly organizationId: Types.ObjectId;
  readonly opId: string;
  readonly type: OperationType;
  readonly fence: number;
  /** Local time of the last renewal: nobody claims before it plus the lease. */
  renewedAt: number;
}

/** Fences and decisions older than this are no longer read by anyone. */
const RETENTION_MS = 7 * 24 * 3_600_000;

const fenceId = (opId: string, fence: number) => `${opId}:${fence}`;

/**
 * Fencing tokens and commit decisions for the lifecycle's operations.
 *
 * Both are insert-only documents keyed by `_id`, the one write that MongoDB
 * and FerretDB 1.24 both make atomic (FerretDB's conditional updates are not):
 * - Every claim of an operation inserts the next fence (`<op_id>:<n>`); the
 *   worker that starts it holds 1, each repair claim takes the next one. A
 *   holder checks, right before each of its writes, that no higher fence
 *   exists, so a worker paused past its lease and resumed changes nothing
 *   once a repairer has claimed (it answers 503 OPERATION_INTERRUPTED).
 * - An operation's outcome is decided once, by whoever inserts its decision
 *   first: the worker commits (after a rename's verified copy, at a create's
 *   end), a repairer aborts. Roll forward and roll back therefore never both
 *   happen, whatever pauses and whichever order.
 * The lease time on the organization's `pending` is only the hint that tells
 * a repairer when to claim.
 */
@Injectable()
export class OperationLedger implements OnModuleInit {
  private readonly fences: Collection<FenceDocument>;
  private readonly decisions: Collection<DecisionDocument>;

  constructor(
    @InjectConnection() master: Connection,
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {
    this.fences = master.collection<FenceDocument>('operation_fences');
    this.decisions = master.collection<DecisionDocument>('operation_decisions');
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([
      this.fences.createIndex({ claimed_at: 1 }, { name: 'claimed_at_1' }),
      this.decisions.createIndex({ decided_at: 1 }, { name: 'decided_at_1' }),
    ]);
  }

  /**
   * The starting worker's token, taken right after the operation is
   * recorded. If a repairer already claimed the first fence (this process
   * stalled in between), the operation is no longer this worker's.
   */
  async open(
    organizationId: Types.ObjectId,
    opId: string,
    type: OperationType,
  ): Promise<OperationLease> {
    const lease: OperationLease = { organizationId, opId, type, fence: 1, renewedAt: Date.now() };
    try {
      await this.fences.insertOne(this.fenceDocument(lease));
    } catch (error) {
      if (isDuplicateKeyError(error)) throw operationInterrupted();
      throw error;
    }
    return lease;
  }

  /**
   * A repairer's claim: the next fence after the highest one it can see.
   * Null when another claimant got that fence first.
   */
  async claim(
    organizationId: Types.ObjectId,
    opId: string,
    type: OperationType,
  ): Promise<OperationLease | null> {
    const [highest] = await this.fences
      .find({ op_id: opId })
      .sort({ fence: -1 })
      .limit(1)
      .toArray();
    const lease: OperationLease = {
      organizationId,
      opId,
      type,
      fence: (highest?.fence ?? 0) + 1,
      renewedAt: Date.now(),
    };
    try {
      await this.fences.insertOne(this.fenceDocument(lease));
    } catch (error) {
      if (isDuplicateKeyError(error)) return null;
      throw error;
    }
    await this.renewHint(lease);
    return lease;
  }

  /** Throws 503 OPERATION_INTERRUPTED once anyone has claimed past `lease`. */
  async assertCurrent(lease: OperationLease): Promise<void> {
    const superseded = await this.fences.findOne(
      { _id: fenceId(lease.opId, lease.fence + 1) },
      { projection: { _id: 1 } },
    );
    if (superseded) throw operationInterrupted();
  }

  /** Keeps repairers away while a long step runs; also a fence check. */
  async renew(lease: OperationLease): Promise<void> {
    const at = Date.now();
    await this.assertCurrent(lease);
    await this.renewHint(lease, at);
  }

  /**
   * One write of the operation, fenced on both sides. A process can stop
   * anywhere, including after its fence check and before its write reaches
   * the server, so the check alone is not enough. Before the write: the lease
   * must be fresh by the local clock (renewed if half of it has passed). After
   * it: if more than half the lease has passed since the renewal, the write
   * may have been sent after a pause, perhaps after a repairer claimed; the
   * fence is checked again, and if it was lost, `undo` takes the write back
   * (a copy batch landing in a database someone else now owns) before the
   * operation stops with OPERATION_INTERRUPTED.
   */
  async write<T>(
    lease: OperationLease,
    write: () => Promise<T>,
    undo?: (result: T) => Promise<unknown>,
  ): Promise<T> {
    await this.renew(lease);
    let result: T;
    try {
      result = await write();
    } catch (error) {
      // Refused after a pause (it collided with what a repairer or a retry
      // made since): the lost fence is the answer, not the collision.
      if (!this.fresh(lease)) await this.assertCurrent(lease);
      throw error;
    }
    if (!this.fresh(lease)) {
      try {
        await this.assertCurrent(lease);
      } catch (error) {
        await undo?.(result).catch(() => undefined);
        throw error;
      }
    }
    return result;
  }

  /**
   * For a step that cannot be undone (a drop): refuse unless the lease is
   * fresh by the local clock right now, so a pause before this point is
   * caught here rather than after the fact.
   */
  assertFresh(lease: OperationLease): void {
    if (!this.fresh(lease)) throw operationInterrupted();
  }

  private fresh(lease: OperationLease): boolean {
    return Date.now() - lease.renewedAt < this.config.operationLeaseMs / 2;
  }

  /**
   * Runs a long step (an index build, a verification) while renewing the
   * lease in the background, so a slow step does not look like a dead one.
   * The step's own writes still check the fence.
   */
  async keepAlive<T>(lease: OperationLease, step: () => Promise<T>): Promise<T> {
    const timer = setInterval(
      () => void this.renew(lease).catch(() => undefined),
      Math.max(250, this.config.operationLeaseMs / 3),
    );
    try {
      return await step();
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Decides the operation's outcome, unless it is already decided; returns
   * the outcome that stands. A worker commits only while it holds the fence.
   */
  async decide(lease: OperationLease, outcome: Outcome): Promise<Outcome> {
    if (outcome === 'commit') await this.assertCurrent(lease);
    try {
      await this.decisions.insertOne({
        _id: lease.opId,
        organization_id: lease.organizationId,
        type: lease.type,
        outcome,
        decided_at: new Date(),
      });
      return outcome;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
    const decided = await this.decisions.findOne({ _id: lease.opId });
    if (!decided) throw new Error(`Decision for ${lease.opId} vanished`);
    return decided.outcome;
  }

  async outcomeOf(opId: string): Promise<Outcome | null> {
    const decided = await this.decisions.findOne({ _id: opId });
    return decided?.outcome ?? null;
  }

  /** Old fences and decisions: no paused process waits a week to act on them. */
  async purge(now = Date.now()): Promise<void> {
    const before = new Date(now - RETENTION_MS);
    await this.fences.deleteMany({ claimed_at: { $lt: before } });
    await this.decisions.deleteMany({ decided_at: { $lt: before } });
  }

  leaseDeadline(): Date {
    return new Date(Date.now() + this.config.operationLeaseMs);
  }

  private async renewHint(lease: OperationLease, at = Date.now()): Promise<void> {
    lease.renewedAt = at;
    await this.organizations
      .updateOne(
        { _id: lease.organizationId, 'pending.op_id': lease.opId },
        {
          $set: {
            'pending.lease_until': new Date(at + this.config.operationLeaseMs),
            'pending.fence': lease.fence,
          },
        },
      )
      .exec();
  }

  private fenceDocument(lease: OperationLease): FenceDocument {
    return {
      _id: fenceId(lease.opId, lease.fence),
      op_id: lease.opId,
      fence: lease.fence,
      organization_id: lease.organizationId,
      claimed_at: new Date(),
    };
  }
}
