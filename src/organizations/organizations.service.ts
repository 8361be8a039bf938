import { Inject, Injectable } from '@nestjs/common';
import { trusted } from 'mongoose';
import { AdminsService, emailTaken } from '../admins/admins.service';
import { PasswordConfirmation } from '../admins/password-confirmation.service';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError, orgBusy, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../auth/request-context';
import { authConfig, type AuthConfig } from '../config/configuration';
import { TenantWriteFence } from '../database/tenant-write-fence';
import type { CreateOrganizationDto } from './dto/create-organization.dto';
import {
  OrganizationDeletedView,
  OrganizationOwnerView,
  OrganizationPublicView,
} from './dto/organization.view';
import type { UpdateOrganizationDto } from './dto/update-organization.dto';
import { CreateOrganizationOperation } from './lifecycle/create-organization.operation';
import { DeleteOrganizationOperation } from './lifecycle/delete-organization.operation';
import { RenameOrganizationOperation } from './lifecycle/rename-organization.operation';
import { slugify } from './organization-name';
import {
  isVisible,
  OrganizationsRepository,
  type OrganizationRecord,
} from './organizations.repository';

const forbidden = (detail = 'Your token belongs to a different organization.') =>
  new DomainError(ErrorCode.FORBIDDEN, detail);

const ownersOnly = () => forbidden('Only an owner of the organization may do this.');

@Injectable()
export class OrganizationsService {
  constructor(
    private readonly repository: OrganizationsRepository,
    private readonly creation: CreateOrganizationOperation,
    private readonly renaming: RenameOrganizationOperation,
    private readonly deletion: DeleteOrganizationOperation,
    private readonly admins: AdminsService,
    private readonly passwords: PasswordConfirmation,
    private readonly audit: AuditService,
    private readonly writes: TenantWriteFence,
    @Inject(authConfig.KEY) private readonly auth: AuthConfig,
  ) {}

  async create(
    context: RequestContext,
    dto: CreateOrganizationDto,
  ): Promise<OrganizationOwnerView> {
    if (this.auth.orgCreatePolicy === 'superadmin' && context.actor?.role !== 'superadmin') {
      throw context.actor
        ? forbidden('Only the super admin may create organizations (ORG_CREATE_POLICY=superadmin).')
        : new DomainError(
            ErrorCode.UNAUTHORIZED,
            "Creating organizations needs the super admin's token.",
          );
    }
    const { organization, owner } = await this.creation.run({
      name: dto.organization_name,
      email: dto.email,
      password: dto.password,
    });
    await this.audit.record(context, {
      action: 'organization.created',
      organizationId: organization._id,
      details: { organization_name: organization.name, owner_email: owner.email },
    });
    return OrganizationOwnerView.fromOwner(organization, owner);
  }

  /** The operator's view of every organization, by slug, optionally by name prefix. */
  async list(
    viewer: AuthenticatedAdmin,
    query: { limit?: number; after?: string; q?: string },
  ): Promise<{ items: OrganizationRecord[]; next: string | null }> {
    if (viewer.role !== 'superadmin')
      throw forbidden('Only the super admin may list organizations.');
    const limit = query.limit ?? 20;
    const range: Record<string, string> = {};
    const prefix = query.q ? slugify(query.q) : '';
    // A prefix is a range on the unique slug index: no regex from user input.
    if (prefix) Object.assign(range, { $gte: prefix, $lt: `${prefix}\uffff` });
    if (query.after) range.$gt = query.after;
    // Half-created and deleting organizations do not exist for clients; renaming ones do.
    const filter: Record<string, unknown> = {
      'pending.type': trusted({ $nin: ['create', 'delete'] }),
    };
    if (Object.keys(range).length) filter.slug = trusted(range);
    const page = await this.repository.organizations
      .find(filter)
      .sort({ slug: 1 })
      .limit(limit + 1)
      .lean<OrganizationRecord[]>()
      .exec();
    const items = page.slice(0, limit);
    return { items, next: page.length > limit ? items[items.length - 1].slug : null };
  }

  async get(
    name: string,
    viewer: AuthenticatedAdmin | undefined,
  ): Promise<OrganizationPublicView | OrganizationOwnerView> {
    const org = await this.findVisible(name);
    if (viewer?.organizationId && org._id.equals(viewer.organizationId)) {
      return OrganizationOwnerView.fromOwner(org, { _id: viewer.adminId, email: viewer.email });
    }
    return OrganizationPublicView.from(org);
  }

  /**
   * Credentials are checked and the new email's availability is confirmed
   * before the rename starts, so the common failures leave nothing half-done.
   */
  async update(
    context: RequestContext,
    dto: UpdateOrganizationDto,
  ): Promise<OrganizationOwnerView> {
    const viewer = context.actor as AuthenticatedAdmin;
    const changesCredentials = dto.email !== undefined || dto.password !== undefined;
    if (dto.new_organization_name === undefined && !changesCredentials) {
      throw new DomainError(
        ErrorCode.VALIDATION_FAILED,
        'Nothing to change: give new_organization_name, email or password.',
        [
          {
            field: 'body',
            message: 'at least one of new_organization_name, email, password is required',
          },
        ],
      );
    }
    let org = await this.ownOrganization(viewer);
    if (dto.organization_name !== undefined && slugify(dto.organization_name) !== org.slug) {
      throw forbidden();
    }
    if (changesCredentials) {
      await this.passwords.confirm(context, viewer, dto.current_password ?? '');
      if (dto.email !== undefined && (await this.admins.emailInUse(dto.email, viewer.adminId))) {
        throw emailTaken();
      }
    }
    if (dto.new_organization_name !== undefined && dto.new_organization_name !== org.name) {
      if (viewer.role !== 'owner') throw ownersOnly();
      const previous = org.name;
      org = await this.renaming.run(org._id, dto.new_organization_name);
      await this.audit.record(context, {
        action: 'organization.renamed',
        organizationId: org._id,
        details: { from: previous, to: org.name },
      });
    }
    let admin = { _id: viewer.adminId, email: viewer.email };
    if (changesCredentials) {
      const organizationId = org._id;
      // An admin write like any other: fenced against a delete of the organization.
      admin = await this.writes.run(
        organizationId,
        async () => {
          const current = await this.repository.findById(organizationId);
          if (!current || !isVisible(current)) throw orgNotFound();
          if (current.pending) throw orgBusy();
        },
        () =>
          this.admins.updateCredentials(viewer.adminId, {
            email: dto.email,
            password: dto.password,
          }),
      );
      await this.audit.record(context, {
        action: 'admin.credentials_changed',
        organizationId: org._id,
        details: {
          email_changed: dto.email !== undefined,
          password_changed: dto.password !== undefined,
        },
      });
    }
    return OrganizationOwnerView.fromOwner(org, admin);
  }

  async delete(context: RequestContext, name: string): Promise<OrganizationDeletedView> {
    const viewer = context.actor as AuthenticatedAdmin;
    const org = await this.findVisible(name);
    // The operator may delete any organization; otherwise only its owners.
    if (viewer.role !== 'superadmin') {
      if (!viewer.organizationId || !org._id.equals(viewer.organizationId)) throw forbidden();
      if (viewer.role !== 'owner') throw ownersOnly();
    }
    const deleted = await this.deletion.run(org._id);
    await this.audit.record(context, {
      action: 'organization.deleted',
      organizationId: deleted._id,
      details: { organization_name: deleted.name },
    });
    return { organization_name: deleted.name, deleted: true };
  }

  private async findVisible(name: string): Promise<OrganizationRecord> {
    const org = await this.repository.findBySlug(slugify(name));
    if (!org || !isVisible(org)) throw orgNotFound(name);
    return org;
  }

  private async ownOrganization(viewer: AuthenticatedAdmin): Promise<OrganizationRecord> {
    if (!viewer.organizationId) throw forbidden('The super admin belongs to no organization.');
    const org = await this.repository.findById(viewer.organizationId);
    if (!org || !isVisible(org)) throw orgNotFound();
    return org;
  }
}
