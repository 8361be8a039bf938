import { Controller, Get, Header, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { CurrentAdmin } from '../auth/decorators';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { OperationView } from './dto/operation.view';
import { LongOperations } from './long-operations.service';

@ApiTags('organizations')
@Controller('org/operations')
export class OperationsController {
  constructor(private readonly operations: LongOperations) {}

  @Get(':id')
  // Private, and changing until it ends: never stored by a cache on the way.
  @Header('cache-control', 'no-store')
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'A rename or delete that outlived its request',
    description:
      "The organization's admins and the super admin may read it; to anyone else it does not exist (404). Kept for 7 days after it ends.",
  })
  @ApiOkResponse({ type: OperationView })
  @ApiProblems(401, [
    404,
    'OPERATION_NOT_FOUND: no such operation, it expired, or it belongs to another organization.',
  ])
  find(
    @CurrentAdmin() viewer: AuthenticatedAdmin,
    @Param('id') id: string,
  ): Promise<OperationView> {
    return this.operations.find(viewer, id);
  }
}
