import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { ProblemDetailsDto } from '../../common/http/problem-details.dto';
import { OrganizationDeletedView, OrganizationOwnerView } from './organization.view';

export const OPERATION_STATUSES = ['running', 'succeeded', 'failed'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

export class OperationProgressView {
  /** Tenant documents copied so far (a rename's copy; 0 for a delete). @example 12000 */
  documents_copied!: number;
  /** Tenant documents to copy, counted when the copy started. @example 250000 */
  documents_total!: number;
}

/**
 * A rename or delete that outlives its request. Polled at the `Location` a
 * 202 Accepted names until `status` is `succeeded` or `failed`.
 */
@ApiExtraModels(OrganizationOwnerView, OrganizationDeletedView, ProblemDetailsDto)
export class OperationView {
  /** @example "3f2b8c1e-9d4a-4c8e-b1a2-6e5f7d8c9b0a" */
  id!: string;

  @ApiProperty({ enum: ['rename', 'delete'], example: 'rename' })
  type!: string;

  /** The organization's name when the operation started. @example "Acme Inc" */
  organization_name!: string;

  @ApiProperty({ enum: OPERATION_STATUSES, example: 'running' })
  status!: OperationStatus;

  @ApiProperty({ type: OperationProgressView })
  progress!: OperationProgressView;

  started_at!: Date;

  @ApiProperty({ type: Date, nullable: true })
  finished_at!: Date | null;

  /**
   * When `succeeded`: the body the synchronous request would have answered
   * (the owner view under the new name after a rename).
   */
  @ApiPropertyOptional({
    oneOf: [
      { $ref: getSchemaPath(OrganizationOwnerView) },
      { $ref: getSchemaPath(OrganizationDeletedView) },
    ],
  })
  result?: OrganizationOwnerView | OrganizationDeletedView;

  /**
   * When `failed`: the problem+json body the synchronous request would have
   * answered (ORG_NAME_TAKEN, ...), or OPERATION_INTERRUPTED when the
   * instance running it stopped and recovery rolled it back.
   */
  @ApiPropertyOptional({ type: ProblemDetailsDto })
  error?: ProblemDetailsDto;
}
