import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type { Collection } from 'mongodb';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { DomainError } from '../../common/errors/domain.error';
import { ErrorCode } from '../../common/errors/error-codes';
import { describeError, type Problem, toProblem } from '../../common/http/problem';
import { ExpiringCollections } from '../../database/expiring-collections.service';
import type { OperationStatus, OperationView } from '../dto/operation.view';
import { OrganizationOwnerView } from '../dto/organization.view';
import type { OrganizationRecord } from '../organizations.repository';
import { Organization, type OperationType } from '../schemas/organization.schema';
import { OperationLedger, type OperationLease } from './operation-ledger';

export const OPERATIONS_COLLECTION = 'operations';

/** Operation resources are kept this long after they finish (or start). */
const RETENTION_MS = 7 * 24 * 3_600_000;

/** Progress reaches the database at most this often: a write per batch would double the copy's writes. */
const PROGRESS_INTERVAL_MS = 1000;

/** The request an operation came from: what its resource needs to answer as that request would have. */
export interface OperationOrigin {
  /** The admin who asked; a rename's result is the owner view for them. */
  admin: { id: string; email: string };
  /** Path and request id of the asking request, for the `error`'s problem body. */
  instance: string;
  requestId: string;
  /** Told once, when the operation is recorded and its resource exists. */
  recorded?: (operation: OperationView) => void;
}

interface OperationDocument {
  _id: string;
  type: OperationType;
  organization_id: Types.ObjectId;
  organization_name: string;
  status: OperationStatus;
  progress: { documents_copied: number; documents_total: number };
  admin: OperationOrigin['admin'];
  instance: string;
  request_id: string;
  started_at: Date;
  finished_at: Date | null;
  updated_at: Date;
  result?: Record<string, unknown>;
  error?: Problem;
  /**
   * A delete's: the organization's admins when it began, with their
   * credentials versions. The delete ends their sessions, yet they may still
   * read this resource with the tokens they had (`EndedSession`).
   */
  former_admins?: FormerAdmin[];
  /** The fence of whoever wrote the terminal status. */
  fence: number;
  expires_at: Date;
}

/** An admin whose session an operation ended, as their tokens name them. */
export interface FormerAdmin {
  id: Types.ObjectId;
  ver: number;
}

/** An operation resource, and who may read it besides the super admin. */
export interface StoredOperation {
  view: OperationView;
  organizationId: Types.ObjectId;
  formerAdmins: FormerAdmin[];
}

/** Reported by the copy after each batch: documents copied so far, of how many. */
export type ProgressReport = (copied: number, total: number) => void;

/**
 * The operation resources (`GET /org/operations/{id}`): one document per
 * rename or delete, keyed by the operation's id, in the master database.
 *
 * Written only by whoever holds the operation's fence, and like every other
 * fenced write each write checks the fence first. The terminal status is
 * written by the step that ends the operation (right before the organization
 * record is released), by the worker or by the repairer that finished or
 * undid it; a crash after it leaves the same status for repair to confirm.
 * Correctness does not rest on the conditional `status: 'running'` filter
 * (not atomic on FerretDB): every writer derives succeeded or failed from the
 * ledger's one decision, so a stale holder that slipped past its fence check
 * could only reword the outcome, never reverse it.
 */
@Injectable()
export class OperationJournal implements OnModuleInit {
  private readonly logger = new Logger(OperationJournal.name);
  private operations!: Collection<OperationDocument>;

  constructor(
    private readonly expiring: ExpiringCollections,
    private readonly ledger: OperationLedger,
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
  ) {}

  async onModuleInit(): Promise<void> {
    this.operations = await this.expiring.register<OperationDocument>(OPERATIONS_COLLECTION);
  }

  /**
   * The worker's first write after it took its lease. An operation started
   * without an origin (an internal caller) has no resource, and the other
   * writes find nothing to update.
   */
  async open(
    lease: OperationLease,
    organization: Pick<OrganizationRecord, 'name'>,
    origin: OperationOrigin | undefined,
    formerAdmins?: () => Promise<FormerAdmin[]>,
  ): Promise<void> {
    if (!origin) return;
    const now = new Date();
    const document: OperationDocument = {
      _id: lease.opId,
      type: lease.type,
      organization_id: lease.organizationId,
      organization_name: organization.name,
      status: 'running',
      progress: { documents_copied: 0, documents_total: 0 },
      admin: origin.admin,
      instance: origin.instance,
      request_id: origin.requestId,
      started_at: now,
      finished_at: null,
      updated_at: now,
      fence: lease.fence,
      expires_at: new Date(now.getTime() + RETENTION_MS),
    };
    if (formerAdmins) document.former_admins = await formerAdmins();
    await this.ledger.assertCurrent(lease);
    await this.operations.insertOne(document);
    origin.recorded?.(toView(document));
  }

  /**
   * A throttled reporter for the copy: the first and then at most one write
   * a second, none while another is on its way; `flush` writes the last.
   */
  progressReporter(lease: OperationLease): ProgressReport & { flush: () => Promise<void> } {
    let last = 0;
    let latest: [number, number] = [0, 0];
    let inFlight: Promise<void> | undefined;
    const write = () =>
      this.ledger
        .assertCurrent(lease)
        .then(() =>
          this.operations.updateOne(
            { _id: lease.opId, status: 'running' },
            {
              $set: {
                progress: { documents_copied: latest[0], documents_total: latest[1] },
                updated_at: new Date(),
              },
            },
          ),
        )
        .then(() => undefined);
    const report = (copied: number, total: number) => {
      latest = [copied, total];
      if (inFlight || Date.now() - last < PROGRESS_INTERVAL_MS) return;
      last = Date.now();
      // Progress is advisory: a failed write is retried by the next report, and the copy's own fenced writes decide the outcome.
      inFlight = write()
        .catch((error: unknown) => this.logger.debug({ err: error }, 'Progress not recorded'))
        .finally(() => (inFlight = undefined));
    };
    return Object.assign(report, {
      flush: async () => {
        await inFlight;
        await write();
      },
    });
  }

  /** The operation committed (or, for a delete, is about to remove the record): `org` is its end state. */
  async succeed(lease: OperationLease, org: OrganizationRecord): Promise<void> {
    const document = await this.operations.findOne({ _id: lease.opId });
    if (!document) return;
    const result =
      document.type === 'delete'
        ? { organization_name: org.name, deleted: true }
        : OrganizationOwnerView.fromOwner(org, {
            _id: new Types.ObjectId(document.admin.id),
            email: document.admin.email,
          });
    await this.settle(lease, { status: 'succeeded', result: result as Record<string, unknown> });
  }

  /**
   * The operation was rolled back: `reason` is the error the worker would
   * have answered, or none when repair undid the work of a stopped instance.
   */
  async fail(lease: OperationLease, reason: unknown): Promise<void> {
    const document = await this.operations.findOne(
      { _id: lease.opId },
      { projection: { instance: 1, request_id: 1 } },
    );
    if (!document) return;
    const error = toProblem(
      describeError(reason ?? abandoned()),
      document.instance,
      document.request_id,
    );
    await this.settle(lease, { status: 'failed', error });
  }

  async find(id: string): Promise<StoredOperation | null> {
    const document = await this.operations.findOne({ _id: id, expires_at: { $gt: new Date() } });
    if (!document) return null;
    // The outcome is written right before the organization is released: a
    // client told "succeeded" must find it free (its next rename not 409
    // ORG_BUSY), so until the record lets go the operation still runs.
    const releasing =
      document.status !== 'running' &&
      (await this.organizations.exists({ _id: document.organization_id, 'pending.op_id': id })) !==
        null;
    const shown: OperationDocument = releasing
      ? { ...document, status: 'running', finished_at: null, result: undefined, error: undefined }
      : document;
    return {
      view: toView(shown),
      organizationId: document.organization_id,
      formerAdmins: document.former_admins ?? [],
    };
  }

  private async settle(
    lease: OperationLease,
    outcome: Pick<OperationDocument, 'status' | 'result' | 'error'>,
  ): Promise<void> {
    await this.ledger.assertCurrent(lease);
    const now = new Date();
    await this.operations.updateOne(
      { _id: lease.opId, status: 'running' },
      {
        $set: {
          ...outcome,
          finished_at: now,
          updated_at: now,
          fence: lease.fence,
          expires_at: new Date(now.getTime() + RETENTION_MS),
        },
      },
    );
  }
}

/** Why an operation failed that no request is left to explain: its instance stopped before the commit. */
const abandoned = () =>
  new DomainError(
    ErrorCode.OPERATION_INTERRUPTED,
    'The instance running this operation stopped before it committed; recovery rolled it back and nothing changed. Retry it.',
  );

function toView(document: OperationDocument): OperationView {
  const view: OperationView = {
    id: document._id,
    type: document.type,
    organization_name: document.organization_name,
    status: document.status,
    progress: { ...document.progress },
    started_at: document.started_at,
    finished_at: document.finished_at,
  };
  if (document.result) view.result = document.result as unknown as OperationView['result'];
  if (document.error) view.error = document.error;
  return view;
}
