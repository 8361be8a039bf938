import { IsOptional } from 'class-validator';
import { IsOrganizationName } from './organization-name.decorator';

/** The name may come in the query string or in a JSON body (some clients cannot send DELETE bodies). */
export class DeleteOrganizationDto {
  /**
   * The organization to delete; must be the token's own.
   * @example "Acme Inc"
   */
  @IsOptional()
  @IsOrganizationName()
  organization_name?: string;
}
