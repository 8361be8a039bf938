import { ApiProperty } from '@nestjs/swagger';
import type { AdminRecord } from '../../admins/admins.service';
import { clusterOf } from '../../database/tenant-connection.factory';
import type { OrganizationRecord } from '../organizations.repository';

/** What anyone may see of an organization. */
export class OrganizationPublicView {
  /** @example "665f1c2b9d3e4a0012345678" */
  id!: string;
  /** @example "Acme Inc" */
  organization_name!: string;
  /** @example "acme_inc" */
  slug!: string;
  created_at!: Date;
  updated_at!: Date;

  static from(org: OrganizationRecord): OrganizationPublicView {
    return {
      id: String(org._id),
      organization_name: org.name,
      slug: org.slug,
      created_at: org.created_at,
      updated_at: org.updated_at,
    };
  }
}

/** What the super admin sees of each organization in the list. */
export class OrganizationListItemView extends OrganizationPublicView {
  /** The database cluster holding its data (`default` is MONGODB_URI's). @example "eu-2" */
  cluster!: string;

  static fromRecord(org: OrganizationRecord): OrganizationListItemView {
    return { ...OrganizationPublicView.from(org), cluster: clusterOf(org) };
  }
}

export class AdminSummaryView {
  /** @example "665f1c2b9d3e4a0012345679" */
  id!: string;
  /** @example "owner@acme.test" */
  email!: string;
}

/** What the organization's own admins see. Built field by field: no hash can slip through. */
export class OrganizationOwnerView extends OrganizationPublicView {
  /** @example "org_acme_inc" */
  database_name!: string;

  /** The database cluster holding the tenant database (`default` is MONGODB_URI's). @example "default" */
  cluster!: string;

  @ApiProperty({ type: AdminSummaryView })
  admin!: AdminSummaryView;

  static fromOwner(
    org: OrganizationRecord,
    admin: Pick<AdminRecord, '_id' | 'email'>,
  ): OrganizationOwnerView {
    return {
      ...OrganizationPublicView.from(org),
      database_name: org.database_name,
      cluster: clusterOf(org),
      admin: { id: String(admin._id), email: admin.email },
    };
  }
}

export class OrganizationDeletedView {
  /** @example "Acme Inc" */
  organization_name!: string;
  /** @example true */
  deleted!: true;
}

export class OrganizationPageView {
  @ApiProperty({ type: [OrganizationListItemView] })
  items!: OrganizationListItemView[];

  /** Pass as `after` for the next page; null on the last page. */
  @ApiProperty({ type: String, nullable: true, example: 'acme_inc' })
  next!: string | null;
}
