import { Controller, Get, Header, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { AcceptsEndedSession, CurrentAdmin } from '../auth/decorators';
import type { EndedSession } from '../auth/ended-session';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { OperationView } from './dto/operation.view';
import { LongOperations } from './long-operations.service';

@ApiTags('organizations')
@Controller('org/operations')
export class OperationsController {
  constructor(private readonly operations: LongOperations) {}

  @Get(':id')
  // The admins of an organization being deleted (or deleted) follow that delete.
  @AcceptsEndedSession()
  // Private, and changing until it ends: never stored by a cache on the way.
  @Header('cache-control', 'no-store')
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'A rename, move or delete that outlived its request',
    description:
      "The organization's admins and the super admin may read it; to anyone else it does not exist (404). A delete ends its organization's sessions, yet the admins it had when it began may still read it with the tokens they had then. Kept for 7 days after it ends.",
  })
  @ApiOkResponse({ type: OperationView })
  @ApiProblems(401, [
    404,
    'OPERATION_NOT_FOUND: no such operation, it expired, or it belongs to another organization.',
  ])
  find(
    @CurrentAdmin() viewer: AuthenticatedAdmin | EndedSession,
    @Param('id') id: string,
  ): Promise<OperationView> {
    return this.operations.find(viewer, id);
  }
}
