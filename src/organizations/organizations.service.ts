import { Inject, Injectable } from '@nestjs/common';
import { AdminsService, emailTaken } from '../admins/admins.service';
import { PasswordConfirmation } from '../admins/password-confirmation.service';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../auth/request-context';
import { authConfig, type AuthConfig } from '../config/configuration';
import { ClusterConnections } from '../database/cluster-connections';
import { clusterOf } from '../database/tenant-connection.factory';
import { ClusterPlacement } from './cluster-placement';
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
import { type LongAnswer, LongOperations, type LongRequest } from './long-operations.service';
import type { OperationOrigin } from './lifecycle/operation-journal';
import { slugify } from './organization-name';
import { OrganizationsRepository, type OrganizationRecord } from './organizations.repository';
import { TenantAccess } from './tenant-access.service';

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
    private readonly access: TenantAccess,
    private readonly placement: ClusterPlacement,
    private readonly clusters: ClusterConnections,
    private readonly long: LongOperations,
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
    if (dto.cluster !== undefined && context.actor?.role !== 'superadmin') {
      throw forbidden('Only the super admin may choose the cluster of an organization.');
    }
    const cluster = await this.placement.choose(dto.cluster);
    // A cluster that is down refuses here, before anything is recorded.
    await this.clusters.connection(cluster);
    const { organization, owner } = await this.creation.run({
      name: dto.organization_name,
      email: dto.email,
      password: dto.password,
      cluster,
    });
    await this.audit.record(context, {
      action: 'organization.created',
      organizationId: organization._id,
      details: {
        organization_name: organization.name,
        owner_email: owner.email,
        cluster: clusterOf(organization),
      },
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
    return this.repository.page({
      prefix: query.q ? slugify(query.q) : '',
      after: query.after,
      limit: query.limit ?? 20,
    });
  }

  /** Anyone gets the public view; the organization's own admins get the owner view. */
  async get(name: string, viewer: undefined): Promise<OrganizationPublicView>;
  async get(
    name: string,
    viewer: AuthenticatedAdmin | undefined,
  ): Promise<OrganizationPublicView | OrganizationOwnerView>;
  async get(
    name: string,
    viewer: AuthenticatedAdmin | undefined,
  ): Promise<OrganizationPublicView | OrganizationOwnerView> {
    // The owner view of one's own organization costs no read beyond the token check's.
    const org = await this.findVisible(name, viewer);
    if (viewer?.organizationId && org._id.equals(viewer.organizationId)) {
      return OrganizationOwnerView.fromOwner(org, { _id: viewer.adminId, email: viewer.email });
    }
    return OrganizationPublicView.from(org);
  }

  /**
   * Credentials are checked and the new email's availability is confirmed
   * before the rename starts, so the common failures leave nothing half-done.
   *
   * A rename alone is a long operation (202 past the budget or on request).
   * A rename with an email or password change always answers itself: the
   * change revokes the token the client would poll with, and it must follow
   * the rename (which refuses admin writes while it runs).
   */
  async update(
    context: RequestContext,
    dto: UpdateOrganizationDto,
    respondAsync = false,
  ): Promise<LongAnswer<OrganizationOwnerView>> {
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
    let org: OrganizationRecord = await this.access.organizationFor(viewer, 'read');
    if (dto.organization_name !== undefined && slugify(dto.organization_name) !== org.slug) {
      throw forbidden();
    }
    if (changesCredentials) {
      await this.passwords.confirm(context, viewer, dto.current_password ?? '');
      if (dto.email !== undefined && (await this.admins.emailInUse(dto.email, viewer.adminId))) {
        throw emailTaken();
      }
    }
    let admin = { _id: viewer.adminId, email: viewer.email };
    const newName = dto.new_organization_name;
    if (newName !== undefined && newName !== org.name) {
      if (viewer.role !== 'owner') throw ownersOnly();
      const current = org;
      // The copy runs on the organization's cluster: refused at once while it is down.
      await this.clusters.connection(clusterOf(current));
      const rename = async (origin?: OperationOrigin) => {
        const renamed = await this.renaming.run(current._id, newName, origin);
        await this.audit.record(context, {
          action: 'organization.renamed',
          organizationId: renamed._id,
          details: { from: current.name, to: renamed.name, cluster: clusterOf(renamed) },
        });
        return renamed;
      };
      if (!changesCredentials) {
        return this.long.run(longRequest(context, '/org/update', respondAsync), async (origin) =>
          OrganizationOwnerView.fromOwner(await rename(origin), admin),
        );
      }
      org = await rename();
    }
    if (changesCredentials) {
      // An admin write like any other: fenced against a delete of the organization.
      admin = await this.access.write(viewer, () =>
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
    return { done: OrganizationOwnerView.fromOwner(org, admin) };
  }

  async delete(
    context: RequestContext,
    name: string,
    respondAsync = false,
  ): Promise<LongAnswer<OrganizationDeletedView>> {
    const viewer = context.actor as AuthenticatedAdmin;
    const org = await this.findVisible(name);
    // The operator may delete any organization; otherwise only its owners.
    if (viewer.role !== 'superadmin') {
      if (!viewer.organizationId || !org._id.equals(viewer.organizationId)) throw forbidden();
      if (viewer.role !== 'owner') throw ownersOnly();
    }
    // Its database is dropped on its cluster: refused at once while that is down.
    await this.clusters.connection(clusterOf(org));
    return this.long.run(longRequest(context, '/org/delete', respondAsync), async (origin) => {
      const deleted = await this.deletion.run(org._id, origin);
      await this.audit.record(context, {
        action: 'organization.deleted',
        organizationId: deleted._id,
        details: { organization_name: deleted.name, cluster: clusterOf(deleted) },
      });
      return { organization_name: deleted.name, deleted: true as const };
    });
  }

  private async findVisible(
    name: string,
    viewer?: AuthenticatedAdmin,
  ): Promise<OrganizationRecord> {
    const org = viewer
      ? await this.access.findLiveBySlugFor(slugify(name), viewer)
      : await this.access.findLiveBySlug(slugify(name));
    if (!org) throw orgNotFound(name);
    return org;
  }
}

function longRequest(
  context: RequestContext,
  instance: string,
  respondAsync: boolean,
): LongRequest {
  const actor = context.actor as AuthenticatedAdmin;
  return {
    respondAsync,
    origin: {
      admin: { id: String(actor.adminId), email: actor.email },
      instance,
      requestId: context.requestId,
    },
  };
}
