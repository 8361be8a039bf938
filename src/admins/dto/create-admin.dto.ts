import { IsIn } from 'class-validator';
import { IsAdminEmail, IsPassword } from '../../common/decorators/validation.decorators';

export const ASSIGNABLE_ROLES = ['owner', 'admin'] as const;
export type AssignableRole = (typeof ASSIGNABLE_ROLES)[number];

export class CreateAdminDto {
  /**
   * Unique across the service (login is by email alone).
   * @example "ops@acme.test"
   */
  @IsAdminEmail()
  email!: string;

  /**
   * 8 to 72 bytes, not only whitespace.
   * @example "another strong passphrase"
   */
  @IsPassword()
  password!: string;

  /**
   * Owners may rename or delete the organization and manage admins; admins
   * may read it and manage members.
   * @example "admin"
   */
  @IsIn(ASSIGNABLE_ROLES)
  role!: AssignableRole;
}

export class UpdateAdminRoleDto {
  /** @example "owner" */
  @IsIn(ASSIGNABLE_ROLES)
  role!: AssignableRole;
}
