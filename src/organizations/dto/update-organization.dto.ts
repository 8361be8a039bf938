import { IsOptional, ValidateIf } from 'class-validator';
import { IsAdminEmail, IsPassword } from '../../common/decorators/validation.decorators';
import { IsOrganizationName } from './organization-name.decorator';

/** All fields optional, but at least one change (`new_organization_name`, `email` or `password`). */
export class UpdateOrganizationDto {
  /**
   * The organization's current name. Optional; when given it must be the
   * token's organization (403 otherwise), which guards against renaming the
   * wrong organization from a stale client.
   * @example "Acme Inc"
   */
  @IsOptional()
  @IsOrganizationName()
  organization_name?: string;

  /**
   * The new name. Changing the slug moves the tenant database to `org_<new_slug>`.
   * @example "Acme Labs"
   */
  @IsOptional()
  @IsOrganizationName()
  new_organization_name?: string;

  /**
   * New email for the calling admin. Requires `current_password`; revokes earlier tokens.
   * @example "ceo@acme.test"
   */
  @IsOptional()
  @IsAdminEmail()
  email?: string;

  /**
   * New password for the calling admin. Requires `current_password`; revokes earlier tokens.
   * @example "an even longer passphrase"
   */
  @IsOptional()
  @IsPassword()
  password?: string;

  /**
   * The calling admin's current password; required when `email` or `password` changes.
   * @example "correct horse battery staple"
   */
  @ValidateIf((o: UpdateOrganizationDto) => o.email !== undefined || o.password !== undefined)
  @IsPassword()
  current_password?: string;
}
