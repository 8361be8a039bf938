import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, trusted } from 'mongoose';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError, orgBusy, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../auth/request-context';
import { isDuplicateKeyError } from '../common/errors/mongo-errors';
import { TenantConnectionFactory, tenantLocationOf } from '../database/tenant-connection.factory';
import { TenantOwnership } from '../database/tenant-ownership';
import { TenantWriteFence } from '../database/tenant-write-fence';
import { isVisible } from '../organizations/organizations.repository';
import { Organization } from '../organizations/schemas/organization.schema';
import type { PageQueryDto } from '../common/http/page-query.dto';
import type { CreateMemberDto, UpdateMemberDto } from './dto/member.dto';
import { Member, MEMBER_MODEL, MemberSchema } from './schemas/member.schema';

const DEFAULT_PAGE = 20;

const memberNotFound = () =>
  new DomainError(ErrorCode.MEMBER_NOT_FOUND, 'No member with this id in your organization.');
const memberEmailTaken = () =>
  new DomainError(ErrorCode.MEMBER_EMAIL_TAKEN, 'A member with this email already exists.');

/**
 * The member directory, stored in the organization's own database. The
 * organization always comes from the verified token; the tenant handle from
 * the factory. Every write goes through the tenant write fence: it is
 * refused while a rename or delete holds the organization, and a rename or
 * delete that starts while it is in flight waits for it before copying or
 * dropping the database, so an acknowledged write is never left behind.
 */
@Injectable()
export class MembersService {
  constructor(
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    private readonly tenants: TenantConnectionFactory,
    private readonly fence: TenantWriteFence,
    private readonly ownership: TenantOwnership,
    private readonly audit: AuditService,
  ) {}

  async create(context: RequestContext, dto: CreateMemberDto): Promise<Member> {
    const doc = await this.write(
      context.actor,
      async (members) => {
        try {
          return await members.create({
            email: dto.email,
            name: dto.name,
            role: dto.role ?? 'member',
            metadata: dto.metadata ?? {},
          });
        } catch (error) {
          if (isDuplicateKeyError(error)) throw memberEmailTaken();
          throw error;
        }
      },
      // Landed after a delete dropped the database, perhaps after another
      // organization took the name: take the insert back, and the database it
      // recreated with it, so nothing foreign stays and the name is not blocked.
      async (created, members) => {
        const location = { databaseName: members.db.name, clusterUri: null };
        const owner = await this.ownership.inspect(location);
        const ours = String(organizationOf(context.actor));
        if (owner.kind === 'owned' && owner.organizationId === ours) return;
        await members.deleteOne({ _id: created._id }).exec();
        await this.ownership.dropIf(location, (now) => now.kind === 'empty');
      },
    );
    await this.changed(context, 'member.added', doc._id);
    return doc.toObject();
  }

  /** Stable order by id; `after` is the last id of the previous page. */
  async list(
    viewer: AuthenticatedAdmin,
    query: PageQueryDto,
  ): Promise<{ items: Member[]; next: string | null }> {
    const members = await this.reader(viewer);
    const limit = query.limit ?? DEFAULT_PAGE;
    const filter = query.after ? { _id: trusted({ $gt: new Types.ObjectId(query.after) }) } : {};
    // One extra document tells whether another page exists.
    const page = await members
      .find(filter)
      .sort({ _id: 1 })
      .limit(limit + 1)
      .lean<Member[]>()
      .exec();
    const items = page.slice(0, limit);
    const next = page.length > limit ? String(items[items.length - 1]._id) : null;
    return { items, next };
  }

  async get(viewer: AuthenticatedAdmin, id: Types.ObjectId): Promise<Member> {
    const members = await this.reader(viewer);
    const member = await members.findById(id).lean<Member>().exec();
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
    const updated = await this.write(context.actor, async (members) => {
      try {
        const after = await setFields(members, id, set);
        if (after && dto.metadata !== undefined && !sameJson(after.metadata, dto.metadata)) {
          // FerretDB 1.24 skips a $set of an embedded document that holds the
          // stored one's values under other keys ({i: 2} -> {v: 2} stays
          // {i: 2}). Clearing the field first makes the second $set a change.
          await members.updateOne({ _id: id }, { $unset: { metadata: 1 } }).exec();
          return await setFields(members, id, { metadata: dto.metadata });
        }
        return after;
      } catch (error) {
        if (isDuplicateKeyError(error)) throw memberEmailTaken();
        throw error;
      }
    });
    if (!updated) throw memberNotFound();
    await this.changed(context, 'member.updated', id, { fields: Object.keys(set) });
    return updated;
  }

  async remove(context: RequestContext, id: Types.ObjectId): Promise<void> {
    const { deletedCount } = await this.write(context.actor, (members) =>
      members.deleteOne({ _id: id }).exec(),
    );
    if (deletedCount === 0) throw memberNotFound();
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

  private async reader(viewer: AuthenticatedAdmin | undefined): Promise<Model<Member>> {
    const org = await this.organization(organizationOf(viewer));
    if (!org || !isVisible(org)) throw orgNotFound();
    return this.membersOf(org);
  }

  /**
   * Runs one write on the organization's members through the fence. The
   * organization (and so the database written to) is read by the admission
   * check, after the write's intent is registered: a rename or delete
   * recorded before that is seen there, one recorded after waits for us.
   */
  private async write<T>(
    viewer: AuthenticatedAdmin | undefined,
    work: (members: Model<Member>) => Promise<T>,
    stray?: (result: T, members: Model<Member>) => Promise<void>,
  ): Promise<T> {
    const organizationId = organizationOf(viewer);
    let members!: Model<Member>;
    return this.fence.run(
      organizationId,
      async () => {
        const org = await this.organization(organizationId);
        if (!org || !isVisible(org)) throw orgNotFound();
        if (org.pending) throw orgBusy();
        members = this.membersOf(org);
      },
      () => work(members),
      stray && ((result) => stray(result, members)),
    );
  }

  private organization(id: Types.ObjectId): Promise<Organization | null> {
    return this.organizations
      .findById(id, { database_name: 1, cluster_uri: 1, pending: 1 })
      .lean<Organization>()
      .exec();
  }

  private membersOf(org: Pick<Organization, 'database_name' | 'cluster_uri'>): Model<Member> {
    return this.tenants.model<Member>(tenantLocationOf(org), MEMBER_MODEL, MemberSchema);
  }
}

function setFields(
  members: Model<Member>,
  id: Types.ObjectId,
  set: Partial<Member>,
): Promise<Member | null> {
  // No projection on findAndModify: FerretDB 1.24 does not implement it.
  return members
    .findByIdAndUpdate(id, { $set: set }, { returnDocument: 'after' })
    .lean<Member>()
    .exec();
}

/** Key order included: both servers keep an embedded document's fields in the order written. */
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function organizationOf(viewer: AuthenticatedAdmin | undefined): Types.ObjectId {
  if (!viewer?.organizationId) {
    throw new DomainError(ErrorCode.FORBIDDEN, 'The super admin belongs to no organization.');
  }
  return viewer.organizationId;
}
