import { Injectable } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import { Model, Types } from 'mongoose';
import { AdminsService, type AdminRecord } from '../admins/admins.service';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError, orgBusy, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../common/http/request-context';
import { LockBusyError, MutexService } from '../database/mutex.service';
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
 * The organization's admins and their roles. Changes that could remove an
 * owner run under the organization's team mutex and count the owners for
 * real, so two owners demoting each other at once cannot both succeed (a
 * conditional update alone is not atomic on FerretDB).
 */
@Injectable()
export class TeamService {
  constructor(
    private readonly admins: AdminsService,
    @InjectModel(Organization.name) private readonly organizations: Model<Organization>,
    private readonly audit: AuditService,
    private readonly mutex: MutexService,
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
    await this.withTeamLock(organizationId, async () => {
      if (target.role === 'owner') await this.assertAnotherOwner(organizationId, id);
      await this.admins.setRole(id, role);
    });
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
    await this.withTeamLock(organizationId, async () => {
      if (target.role === 'owner') await this.assertAnotherOwner(organizationId, id);
      // Deleting the admin revokes every token it holds: sessions are checked
      // against the admin record on each request.
      await this.admins.deleteById(id);
    });
    await this.audit.record(context, {
      action: 'admin.removed',
      organizationId,
      details: { admin_id: String(id), email: target.email, role: target.role },
    });
  }

  private async assertAnotherOwner(organizationId: Types.ObjectId, leaving: Types.ObjectId) {
    const owners = await this.admins.listForOrganization(organizationId);
    if (!owners.some((a) => a.role === 'owner' && !a._id.equals(leaving))) throw lastOwner();
  }

  private async withTeamLock(organizationId: Types.ObjectId, work: () => Promise<void>) {
    try {
      await this.mutex.withLock(`team:${String(organizationId)}`, work);
    } catch (error) {
      if (error instanceof LockBusyError) throw orgBusy();
      throw error;
    }
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
