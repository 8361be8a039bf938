import { IsOptional, Matches } from 'class-validator';
import { IsAdminEmail, IsPassword } from '../../common/decorators/validation.decorators';
import { CLUSTER_NAME_PATTERN } from '../../config/tenant-clusters';
import { IsOrganizationName } from './organization-name.decorator';

export class CreateOrganizationDto {
  /**
   * 3 to 50 characters: letters, digits, spaces, `-` and `_`, starting with a
   * letter or digit. Names that differ only in case or separators are the same
   * organization ("Acme Inc" = "acme_inc" = "ACME-INC").
   * @example "Acme Inc"
   */
  @IsOrganizationName()
  organization_name!: string;

  /**
   * The first admin's email, stored lower-cased; unique across the service.
   * @example "owner@acme.test"
   */
  @IsAdminEmail()
  email!: string;

  /**
   * 8 to 72 bytes (bcrypt's limit), not only whitespace.
   * @example "correct horse battery staple"
   */
  @IsPassword()
  password!: string;

  /**
   * Super admin only (403 for anyone else): the database cluster to place the
   * organization on, `default` or a TENANT_CLUSTERS name (400 if unknown).
   * Without it, TENANT_PLACEMENT decides.
   * @example "eu-2"
   */
  @IsOptional()
  @Matches(CLUSTER_NAME_PATTERN, {
    message: 'cluster must be 1-32 characters of lower-case letters, digits or "-"',
  })
  cluster?: string;
}
