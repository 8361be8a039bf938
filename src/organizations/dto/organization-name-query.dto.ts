import { IsOrganizationName } from './organization-name.decorator';

export class OrganizationNameQueryDto {
  /**
   * Any spelling of the name: matching is by slug.
   * @example "Acme Inc"
   */
  @IsOrganizationName()
  organization_name!: string;
}
