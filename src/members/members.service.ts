import { Injectable } from '@nestjs/common';
import type { Types } from 'mongoose';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../auth/request-context';
import type { PageQueryDto } from '../common/http/page-query.dto';
import { isDuplicateKeyError } from '../common/errors/mongo-errors';
import { TenantOwnership } from '../database/tenant-ownership';
import { TenantAccess } from '../organizations/tenant-access.service';
import type { CreateMemberDto, UpdateMemberDto } from './dto/member.dto';
import { MembersRepository } from './members.repository';
import type { Member } from './schemas/member.schema';

const DEFAULT_PAGE = 20;

const memberNotFound = () =>
  new DomainError(ErrorCode.MEMBER_NOT_FOUND, 'No member with this id in your organization.');
const memberEmailTaken = () =>
  new DomainError(ErrorCode.MEMBER_EMAIL_TAKEN, 'A member with this email already exists.');

/** The driver's duplicate-key error on the unique email index, as the client's conflict. */
async function uniqueEmail<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (isDuplicateKeyError(error)) throw memberEmailTaken();
    throw error;
  }
}

/**
 * The member directory, stored in the organization's own database. The
 * organization always comes from the verified token, through `TenantAccess`.
 * Every write goes through its write path (the tenant write fence): it is
 * refused while a rename or delete holds the organization, and a rename or
 * delete that starts while it is in flight waits for it before copying or
 * dropping the database, so an acknowledged write is never left behind.
 */
@Injectable()
export class MembersService {
  constructor(
    private readonly access: TenantAccess,
    private readonly members: MembersRepository,
    private readonly ownership: TenantOwnership,
    private readonly audit: AuditService,
  ) {}

  async create(context: RequestContext, dto: CreateMemberDto): Promise<Member> {
    const member = await this.access.write(
      context.actor,
      (org) =>
        uniqueEmail(
          this.members.insert(org.location, {
            email: dto.email,
            name: dto.name,
            role: dto.role ?? 'member',
            metadata: dto.metadata ?? {},
          }),
        ),
      // Landed after a delete dropped the database, perhaps after another
      // organization took the name: take the insert back, so nothing foreign
      // stays. The empty database it may have recreated is not dropped here
      // (a claim may record itself there at any moment): a claim clears it,
      // and so does the orphan collector, each under that database's lock.
      async (created, org) => {
        const owner = await this.ownership.inspect(org.location);
        if (owner.kind === 'owned' && owner.organizationId === String(org._id)) return;
        await this.members.remove(org.location, created._id);
      },
    );
    await this.changed(context, 'member.added', member._id);
    return member;
  }

  async list(
    viewer: AuthenticatedAdmin,
    query: PageQueryDto,
  ): Promise<{ items: Member[]; next: string | null }> {
    const org = await this.access.organizationFor(viewer, 'read');
    return this.members.page(org.location, {
      after: query.after,
      limit: query.limit ?? DEFAULT_PAGE,
    });
  }

  async get(viewer: AuthenticatedAdmin, id: Types.ObjectId): Promise<Member> {
    const org = await this.access.organizationFor(viewer, 'read');
    const member = await this.members.findById(org.location, id);
    if (!member) throw memberNotFound();
    return member;
  }

  async update(context: RequestContext, id: Types.ObjectId, dto: UpdateMemberDto): Promise<Member> {
    const set = Object.fromEntries(Object.entries(dto).filter(([, v]) => v !== undefined));
    if (Object.keys(set).length === 0) {
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'Nothing to change.', [
        { field: 'body', message: 'at least one of email, name, role, metadata is required' },
      ]);
    }
    const updated = await this.access.write(context.actor, (org) =>
      uniqueEmail(this.members.update(org.location, id, set)),
    );
    if (!updated) throw memberNotFound();
    await this.changed(context, 'member.updated', id, { fields: Object.keys(set) });
    return updated;
  }

  async remove(context: RequestContext, id: Types.ObjectId): Promise<void> {
    const removed = await this.access.write(context.actor, (org) =>
      this.members.remove(org.location, id),
    );
    if (!removed) throw memberNotFound();
    await this.changed(context, 'member.removed', id);
  }

  private changed(
    context: RequestContext,
    action: string,
    memberId: Types.ObjectId,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    return this.audit.record(context, {
      action,
      organizationId: context.actor?.organizationId ?? null,
      details: { member_id: String(memberId), ...details },
    });
  }
}
