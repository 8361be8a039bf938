import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import type { EndedSession } from '../auth/ended-session';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { describeError } from '../common/http/problem';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import type { OperationView } from './dto/operation.view';
import { OperationJournal, type OperationOrigin } from './lifecycle/operation-journal';

/** Either the request's own answer, or the operation to poll for it. */
export type LongAnswer<T> = { done: T } | { accepted: OperationView };

/** What a request asks of a long operation, besides its work. */
export interface LongRequest {
  /** `Prefer: respond-async`: answer 202 as soon as the operation is recorded. */
  respondAsync: boolean;
  origin: Omit<OperationOrigin, 'recorded'>;
}

const operationNotFound = () =>
  new DomainError(ErrorCode.OPERATION_NOT_FOUND, 'No such operation, or it has expired.');

/**
 * Renames, moves and deletes that outlive their request. The work always runs to
 * its end in this process, detached from the request: a client that closes
 * its connection, or a proxy that gives up on it, cancels nothing. The
 * request waits for it up to SYNC_OPERATION_BUDGET_MS (not at all with
 * `Prefer: respond-async`, once the operation is recorded); after that it is
 * answered 202 with the operation resource, which the operation itself keeps
 * up to date and, if this process stops, repair finishes.
 */
@Injectable()
export class LongOperations implements OnApplicationShutdown {
  private readonly logger = new Logger(LongOperations.name);
  private readonly detached = new Set<Promise<unknown>>();

  constructor(
    private readonly journal: OperationJournal,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
  ) {}

  /**
   * Runs `work` (which passes the origin to its operation) and answers with
   * its result when it ends within the budget, or before its operation is
   * recorded (a precondition failed: the error is the answer); otherwise
   * with the operation, while the work goes on.
   */
  async run<T>(
    request: LongRequest,
    work: (origin: OperationOrigin) => Promise<T>,
  ): Promise<LongAnswer<T>> {
    let recorded!: (operation: OperationView) => void;
    const operation = new Promise<OperationView>((resolve) => (recorded = resolve));
    const running = work({ ...request.origin, recorded });
    let budget: NodeJS.Timeout | undefined;
    const budgetSpent = request.respondAsync
      ? Promise.resolve()
      : new Promise<void>(
          (resolve) => (budget = setTimeout(resolve, this.config.syncOperationBudgetMs)),
        );
    try {
      const first = await Promise.race([
        running.then((value) => ({ done: value })),
        Promise.all([operation, budgetSpent]).then(([accepted]) => ({ accepted })),
      ]);
      if ('done' in first) return first;
      this.detach(running, first.accepted.id);
      // Past the budget the copy has moved on: show where it is now.
      const current = request.respondAsync
        ? null
        : await this.journal.find(first.accepted.id).catch(() => null);
      return { accepted: current?.view ?? first.accepted };
    } finally {
      clearTimeout(budget);
    }
  }

  /**
   * The organization's admins and the super admin see an operation; anyone
   * else is told it does not exist. A delete ends its organization's
   * sessions, so the admins it had when it began may read it with the tokens
   * they had then (same credentials version): how else would the admin who
   * asked learn how it ended?
   */
  async find(viewer: AuthenticatedAdmin | EndedSession, id: string): Promise<OperationView> {
    const operation = await this.journal.find(id);
    if (!operation) throw operationNotFound();
    const own = viewer.organizationId?.equals(operation.organizationId) ?? false;
    const allowed =
      'ended' in viewer
        ? own &&
          operation.formerAdmins.some(
            (former) =>
              former.id.equals(viewer.adminId) && former.ver === viewer.credentialsVersion,
          )
        : own || viewer.role === 'superadmin';
    if (!allowed) throw operationNotFound();
    return operation.view;
  }

  /**
   * Shutdown does not wait for detached operations: a rename may copy for
   * minutes, longer than any orchestrator waits. They stop with the process
   * exactly as in a crash, which the lifecycle is built for: once their
   * lease runs out, repair on another instance (or this one's restart)
   * finishes or undoes each and records the outcome on its resource.
   */
  onApplicationShutdown(): void {
    if (this.detached.size === 0) return;
    this.logger.warn(
      `${this.detached.size} running operation(s) stop with this process; repair finishes or undoes them once their lease (OPERATION_LEASE_MS) runs out`,
    );
  }

  private detach(running: Promise<unknown>, id: string): void {
    const settled = running
      .catch((error: unknown) => {
        // The operation recorded its outcome; only a fault of ours is news.
        if (describeError(error).unexpected) {
          this.logger.error({ err: error, operation_id: id }, 'Detached operation failed');
        }
      })
      .finally(() => this.detached.delete(settled));
    this.detached.add(settled);
  }
}
