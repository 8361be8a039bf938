import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, trusted } from 'mongoose';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../auth/request-context';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { ExpiringCollections } from '../database/expiring-collections.service';
import { AuditEvent } from './schemas/audit-event.schema';

const DAY_MS = 86_400_000;

export interface AuditEntry {
  action: string;
  organizationId: Types.ObjectId | null;
  /** Overrides the context's actor, e.g. the email tried at a failed login. */
  actorEmail?: string;
  actorId?: Types.ObjectId | null;
  details?: Record<string, unknown>;
}

/**
 * The audit trail in the master database, kept AUDIT_RETENTION_DAYS. An
 * event is written after the change it describes succeeded; a failure to
 * write it is logged loudly but does not undo the change.
 */
@Injectable()
export class AuditService implements OnModuleInit {
  private readonly logger = new Logger(AuditService.name);

  constructor(
    @InjectModel(AuditEvent.name) private readonly events: Model<AuditEvent>,
    @Inject(databaseConfig.KEY) private readonly config: DatabaseConfig,
    private readonly expiring: ExpiringCollections,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.events.createIndexes();
    await this.expiring.register(this.events.collection.collectionName);
  }

  async record(context: RequestContext, entry: AuditEntry): Promise<void> {
    const at = new Date();
    const actor = context.actor;
    try {
      await this.events.create({
        action: entry.action,
        organization_id: entry.organizationId,
        actor_id: entry.actorId !== undefined ? entry.actorId : (actor?.adminId ?? null),
        actor_email: entry.actorEmail ?? actor?.email ?? null,
        actor_role: actor?.role ?? null,
        ip: context.ip,
        request_id: context.requestId,
        details: entry.details ?? {},
        at,
        expires_at: new Date(at.getTime() + this.config.auditRetentionDays * DAY_MS),
      });
    } catch (error) {
      this.logger.error(
        { err: error, action: entry.action, request_id: context.requestId },
        'Audit event lost',
      );
    }
  }

  /** Newest first. Owners see their organization; the super admin sees everything. */
  async list(
    viewer: AuthenticatedAdmin,
    query: { limit?: number; after?: string },
  ): Promise<{ items: AuditEvent[]; next: string | null }> {
    const scope: Record<string, unknown> = {};
    if (viewer.role !== 'superadmin') {
      if (viewer.role !== 'owner' || !viewer.organizationId) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          'Only owners and the super admin may read the audit trail.',
        );
      }
      scope.organization_id = viewer.organizationId;
    }
    if (query.after) scope._id = trusted({ $lt: new Types.ObjectId(query.after) });
    scope.expires_at = trusted({ $gt: new Date() });
    const limit = query.limit ?? 20;
    const page = await this.events
      .find(scope)
      .sort({ _id: -1 })
      .limit(limit + 1)
      .lean<AuditEvent[]>()
      .exec();
    const items = page.slice(0, limit);
    return { items, next: page.length > limit ? String(items[items.length - 1]._id) : null };
  }
}
