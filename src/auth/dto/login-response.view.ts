import { ApiProperty } from '@nestjs/swagger';
import type { AdminRole } from '../../admins/schemas/admin.schema';

export class LoginAdminView {
  /** @example "665f1c2b9d3e4a0012345679" */
  id!: string;
  /** @example "owner@acme.test" */
  email!: string;

  @ApiProperty({ enum: ['owner', 'admin', 'superadmin'], example: 'owner' })
  role!: AdminRole;
}

export class LoginOrganizationView {
  /** @example "665f1c2b9d3e4a0012345678" */
  id!: string;
  /** @example "Acme Inc" */
  organization_name!: string;
}

export class LoginResponseView {
  /** HS256 JWT; send as `Authorization: Bearer <token>`. */
  access_token!: string;

  @ApiProperty({ enum: ['bearer'], example: 'bearer' })
  token_type!: 'bearer';

  /** Lifetime in seconds. @example 1800 */
  expires_in!: number;

  @ApiProperty({ type: LoginAdminView })
  admin!: LoginAdminView;

  /** Null for the super admin, who belongs to no organization. */
  @ApiProperty({ type: LoginOrganizationView, nullable: true })
  organization!: LoginOrganizationView | null;
}
