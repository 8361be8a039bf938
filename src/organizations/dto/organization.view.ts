import { ApiProperty } from '@nestjs/swagger';
import type { AdminRecord } from '../../admins/admins.service';
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

  @ApiProperty({ type: AdminSummaryView })
  admin!: AdminSummaryView;

  static fromOwner(
    org: OrganizationRecord,
    admin: Pick<AdminRecord, '_id' | 'email'>,
  ): OrganizationOwnerView {
    return {
      ...OrganizationPublicView.from(org),
      database_name: org.database_name,
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
  @ApiProperty({ type: [OrganizationPublicView] })
  items!: OrganizationPublicView[];

  /** Pass as `after` for the next page; null on the last page. */
  @ApiProperty({ type: String, nullable: true, example: 'acme_inc' })
  next!: string | null;
}
