import { Injectable } from '@nestjs/common';
import { AdminsService, emailTaken } from '../admins/admins.service';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { DomainError, orgNotFound } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { CreateOrganizationDto } from './dto/create-organization.dto';
import {
  OrganizationDeletedView,
  OrganizationOwnerView,
  OrganizationPublicView,
} from './dto/organization.view';
import type { UpdateOrganizationDto } from './dto/update-organization.dto';
import { OrganizationLifecycleService } from './organization-lifecycle.service';
import { slugify } from './organization-name';
import {
  isVisible,
  OrganizationsRepository,
  type OrganizationRecord,
} from './organizations.repository';

const forbidden = () =>
  new DomainError(ErrorCode.FORBIDDEN, 'Your token belongs to a different organization.');

@Injectable()
export class OrganizationsService {
  constructor(
    private readonly repository: OrganizationsRepository,
    private readonly lifecycle: OrganizationLifecycleService,
    private readonly admins: AdminsService,
  ) {}

  async create(dto: CreateOrganizationDto): Promise<OrganizationOwnerView> {
    const { organization, owner } = await this.lifecycle.create({
      name: dto.organization_name,
      email: dto.email,
      password: dto.password,
    });
    return OrganizationOwnerView.fromOwner(organization, owner);
  }

  async get(
    name: string,
    viewer: AuthenticatedAdmin | undefined,
  ): Promise<OrganizationPublicView | OrganizationOwnerView> {
    const org = await this.findVisible(name);
    if (viewer && org._id.equals(viewer.organizationId)) {
      return OrganizationOwnerView.fromOwner(org, { _id: viewer.adminId, email: viewer.email });
    }
    return OrganizationPublicView.from(org);
  }

  /**
   * Credentials are checked and the new email's availability is confirmed
   * before the rename starts, so the common failures leave nothing half-done.
   */
  async update(
    viewer: AuthenticatedAdmin,
    dto: UpdateOrganizationDto,
  ): Promise<OrganizationOwnerView> {
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
      const ok = await this.admins.verifyPassword(viewer.adminId, dto.current_password ?? '');
      if (!ok) throw new DomainError(ErrorCode.WRONG_PASSWORD, 'current_password is incorrect.');
      if (dto.email !== undefined && (await this.admins.emailInUse(dto.email, viewer.adminId))) {
        throw emailTaken();
      }
    }
    if (dto.new_organization_name !== undefined && dto.new_organization_name !== org.name) {
      org = await this.lifecycle.rename(org._id, dto.new_organization_name);
    }
    let admin = { _id: viewer.adminId, email: viewer.email };
    if (changesCredentials) {
      admin = await this.admins.updateCredentials(viewer.adminId, {
        email: dto.email,
        password: dto.password,
      });
    }
    return OrganizationOwnerView.fromOwner(org, admin);
  }

  async delete(viewer: AuthenticatedAdmin, name: string): Promise<OrganizationDeletedView> {
    const org = await this.findVisible(name);
    if (!org._id.equals(viewer.organizationId)) throw forbidden();
    const deleted = await this.lifecycle.delete(org._id);
    return { organization_name: deleted.name, deleted: true };
  }

  private async findVisible(name: string): Promise<OrganizationRecord> {
    const org = await this.repository.findBySlug(slugify(name));
    if (!org || !isVisible(org)) throw orgNotFound(name);
    return org;
  }

  private async ownOrganization(viewer: AuthenticatedAdmin): Promise<OrganizationRecord> {
    const org = await this.repository.findById(viewer.organizationId);
    if (!org || !isVisible(org)) throw orgNotFound();
    return org;
  }
}
