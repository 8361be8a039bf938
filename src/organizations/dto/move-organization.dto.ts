import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { CLUSTER_NAME_PATTERN } from '../../config/tenant-clusters';
import { IsOrganizationName } from './organization-name.decorator';

export class MoveOrganizationDto {
  /**
   * The organization whose tenant database moves.
   * @example "Acme Inc"
   */
  @IsOrganizationName()
  organization_name!: string;

  /**
   * The database cluster to move it to: `default` or a TENANT_CLUSTERS name
   * (400 if unknown, 409 ALREADY_THERE if it is there already).
   * @example "eu-2"
   */
  @ApiProperty({ pattern: CLUSTER_NAME_PATTERN.source, minLength: 1, maxLength: 32 })
  @IsString()
  @Matches(CLUSTER_NAME_PATTERN, {
    message: 'cluster must be 1-32 characters of lower-case letters, digits or "-"',
  })
  cluster!: string;
}
