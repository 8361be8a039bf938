import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class FieldErrorDto {
  /** The request field at fault, in the request's own spelling (`organization_name`, `body`, `query.limit`). */
  @ApiProperty({ example: 'organization_name' })
  field!: string;

  @ApiProperty({ example: 'organization_name must be 3 to 50 characters' })
  message!: string;
}

/** RFC 9457 problem details: the body of every non-2xx response. */
export class ProblemDetailsDto {
  @ApiProperty({ example: 'urn:problem-type:org-name-taken' })
  type!: string;

  @ApiProperty({ example: 'Organization name taken' })
  title!: string;

  @ApiProperty({ example: 409 })
  status!: number;

  @ApiProperty({ example: 'An organization named "Acme Inc" already exists.' })
  detail!: string;

  @ApiProperty({ example: '/org/create' })
  instance!: string;

  @ApiProperty({ example: 'ORG_NAME_TAKEN', description: 'Stable machine-readable code.' })
  code!: string;

  @ApiProperty({ example: '0b8f2c4e-6a47-4f3e-9a53-3b1f9d1c2e77' })
  request_id!: string;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Present for validation failures.' })
  errors?: FieldErrorDto[];
}
