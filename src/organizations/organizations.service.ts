import { Inject, Injectable } from '@nestjs/common';
import type { Types } from 'mongoose';
import { AdminsService, emailTaken } from '../admins/admins.service';
import { PasswordConfirmation } from '../admins/password-confirmation.service';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { RequestContext } from '../auth/request-context';
import { authConfig, type AuthConfig } from '../config/configuration';
import {
  ClusterConnections,
  clusterUnavailable,
  TENANT_CLUSTER_SELECTION_TIMEOUT_MS,
} from '../database/cluster-connections';
import { clusterOf } from '../database/tenant-connection.factory';
import { ClusterPlacement, unknownCluster } from './cluster-placement';
import type { CreateOrganizationDto } from './dto/create-organization.dto';
import type { MoveOrganizationDto } from './dto/move-organization.dto';
import {
  OrganizationDeletedView,
  OrganizationOwnerView,
  OrganizationPublicView,
} from './dto/organization.view';
import type { UpdateOrganizationDto } from './dto/update-organization.dto';
import { CreateOrganizationOperation } from './lifecycle/create-organization.operation';
import { DeleteOrganizationOperation } from './lifecycle/delete-organization.operation';
import {
  alreadyThere,
  MoveOrganizationOperation,
  type MoveProgress,
} from './lifecycle/move-organization.operation';
import { RenameOrganizationOperation } from './lifecycle/rename-organization.operation';
import { type LongAnswer, LongOperations, type LongRequest } from './long-operations.service';
import type { OperationOrigin } from './lifecycle/operation-journal';
import { slugify } from './organization-name';
import { OrganizationsRepository, type OrganizationRecord } from './organizations.repository';
import { TenantAccess } from './tenant-access.service';

const forbidden = (detail = 'Your token belongs to a different organization.') =>
  new DomainError(ErrorCode.FORBIDDEN, detail);

/** A move that passed its checks: which organization, from where to where, and its owner. */
export interface PreparedMove {
  org: OrganizationRecord;
  from: string;
  to: string;
  owner: { _id: Types.ObjectId; email: string };
}

const ownersOnly = () => forbidden('Only an owner of the organization may do this.');

@Injectable()
export class OrganizationsService {
  constructor(
    private readonly repository: OrganizationsRepository,
    private readonly creation: CreateOrganizationOperation,
    private readonly renaming: RenameOrganizationOperation,
    private readonly deletion: DeleteOrganizationOperation,
    private readonly moving: MoveOrganizationOperation,
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

  /**
   * The super admin moves an organization's tenant database to another
   * cluster (a long operation, like a rename).
   */
  async move(
    context: RequestContext,
    dto: MoveOrganizationDto,
    respondAsync = false,
  ): Promise<LongAnswer<OrganizationOwnerView>> {
    if (context.actor?.role !== 'superadmin') {
      throw forbidden('Only the super admin may move organizations between clusters.');
    }
    const move = await this.prepareMove(dto.organization_name, dto.cluster);
    const request = longRequest(context, '/org/move', respondAsync);
    // The operation resource's result is the same owner view as the answer's.
    request.origin.admin = { id: String(move.owner._id), email: move.owner.email };
    return this.long.run(request, async (origin) =>
      OrganizationOwnerView.fromOwner(await this.runMove(context, move, origin), move.owner),
    );
  }

  /**
   * Everything a move can be refused for, checked before it is recorded: a
   * bad cluster name, an unknown organization, the cluster it is on already,
   * and either cluster being down.
   */
  async prepareMove(name: string, cluster: string): Promise<PreparedMove> {
    if (!this.clusters.isConfigured(cluster)) throw unknownCluster(cluster);
    const org = await this.findVisible(name);
    const from = clusterOf(org);
    if (from === cluster) throw alreadyThere(cluster);
    await this.clusters.connection(from);
    // A ping, not only the cached verdict: a cluster that went down a moment
    // ago must not leave a recorded move behind to roll back.
    if ((await this.clusters.status(cluster, TENANT_CLUSTER_SELECTION_TIMEOUT_MS)) !== 'up') {
      throw clusterUnavailable();
    }
    // The super admin is no admin of the organization: the owner view names its owner.
    const admins = await this.admins.listForOrganization(org._id);
    const owner = admins.find((a) => a.role === 'owner') ?? admins[0];
    return { org, from, to: cluster, owner };
  }

  /** Runs a prepared move to its end and audits it (the command line's entry too). */
  async runMove(
    context: RequestContext,
    move: PreparedMove,
    origin?: OperationOrigin,
    progress?: (p: MoveProgress) => void,
  ): Promise<OrganizationRecord> {
    const moved = await this.moving.run(move.org._id, move.to, origin, progress);
    await this.audit.record(context, {
      action: 'organization.moved',
      organizationId: moved._id,
      details: { organization_name: moved.name, from: move.from, to: clusterOf(moved) },
    });
    return moved;
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
