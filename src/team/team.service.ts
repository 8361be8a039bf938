import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types, trusted } from 'mongoose';
import { AdminsService, type AdminRecord } from '../admins/admins.service';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../common/http/request-context';
import { isVisible } from '../organizations/organizations.repository';
import { Organization } from '../organizations/schemas/organization.schema';
import type { AssignableRole, CreateAdminDto } from './dto/create-admin.dto';

const ownersOnly = () =>
  new DomainError(ErrorCode.FORBIDDEN, 'Only an owner of the organization may manage admins.');
const lastOwner = () =>
  new DomainError(ErrorCode.LAST_OWNER, 'An organization must keep at least one owner.');
const adminNotFound = () =>
  new DomainError(ErrorCode.ADMIN_NOT_FOUND, 'No admin with this id in your organization.');

/**
 * The organization's admins and their roles. The last-owner rule holds
 * without transactions through `owner_count`: an owner's departure first
 * takes a slot with a conditional decrement (`owner_count > 1`), so two
 * concurrent demotions can never both succeed.
 */
@Injectable()
export class TeamService {
  constructor(
    private readonly admins: AdminsService,
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    private readonly audit: AuditService,
  ) {}

  async list(viewer: AuthenticatedAdmin): Promise<AdminRecord[]> {
    const organizationId = await this.liveOrganization(viewer);
    return this.admins.listForOrganization(organizationId);
  }

  async add(context: RequestContext, dto: CreateAdminDto): Promise<AdminRecord> {
    const viewer = context.actor as AuthenticatedAdmin;
    const organizationId = await this.liveOrganization(viewer);
    if (viewer.role !== 'owner') throw ownersOnly();
    const admin = await this.admins.create({
      organizationId,
      email: dto.email,
      password: dto.password,
      role: dto.role,
    });
    if (dto.role === 'owner') await this.adjustOwners(organizationId, +1);
    await this.audit.record(context, {
      action: 'admin.added',
      organizationId,
      details: { admin_id: String(admin._id), email: admin.email, role: admin.role },
    });
    return admin;
  }

  async changeRole(
    context: RequestContext,
    id: Types.ObjectId,
    role: AssignableRole,
  ): Promise<AdminRecord> {
    const viewer = context.actor as AuthenticatedAdmin;
    const organizationId = await this.liveOrganization(viewer);
    if (viewer.role !== 'owner') throw ownersOnly();
    const target = await this.admins.findInOrganization(organizationId, id);
    if (!target) throw adminNotFound();
    if (target.role === role) return target;
    if (target.role === 'owner') {
      await this.takeOwnerSlot(organizationId);
      await this.admins.setRole(id, role);
    } else {
      await this.admins.setRole(id, role);
      await this.adjustOwners(organizationId, +1);
    }
    await this.audit.record(context, {
      action: 'admin.role_changed',
      organizationId,
      details: { admin_id: String(id), from: target.role, to: role },
    });
    return { ...target, role };
  }

  /** Owners remove anyone; an admin may remove only themself. */
  async remove(context: RequestContext, id: Types.ObjectId): Promise<void> {
    const viewer = context.actor as AuthenticatedAdmin;
    const organizationId = await this.liveOrganization(viewer);
    if (viewer.role !== 'owner' && !viewer.adminId.equals(id)) throw ownersOnly();
    const target = await this.admins.findInOrganization(organizationId, id);
    if (!target) throw adminNotFound();
    if (target.role === 'owner') await this.takeOwnerSlot(organizationId);
    // Deleting the admin revokes every token it holds: sessions are checked
    // against the admin record on each request.
    await this.admins.deleteById(id);
    await this.audit.record(context, {
      action: 'admin.removed',
      organizationId,
      details: { admin_id: String(id), email: target.email, role: target.role },
    });
  }

  private async takeOwnerSlot(organizationId: Types.ObjectId): Promise<void> {
    const taken = await this.organizations
      .updateOne(
        { _id: organizationId, owner_count: trusted({ $gt: 1 }) },
        { $inc: { owner_count: -1 } },
      )
      .exec();
    if (taken.modifiedCount === 0) throw lastOwner();
  }

  private async adjustOwners(organizationId: Types.ObjectId, delta: number): Promise<void> {
    await this.organizations
      .updateOne({ _id: organizationId }, { $inc: { owner_count: delta } })
      .exec();
  }

  private async liveOrganization(viewer: AuthenticatedAdmin): Promise<Types.ObjectId> {
    if (!viewer.organizationId) {
      throw new DomainError(ErrorCode.FORBIDDEN, 'The super admin belongs to no organization.');
    }
    const org = await this.organizations
      .findById(viewer.organizationId, { pending: 1 })
      .lean<Organization>()
      .exec();
    if (!isVisible(org)) throw orgNotFound();
    return viewer.organizationId;
  }
}
