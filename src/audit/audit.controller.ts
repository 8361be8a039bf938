import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { CurrentAdmin } from '../auth/decorators';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { PageQueryDto } from '../common/http/page-query.dto';
import { AuditService } from './audit.service';
import { AuditEventView, AuditPageView } from './dto/audit.view';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('org/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({
    summary: "Audit trail, newest first: your organization's (owners) or everything (super admin)",
  })
  @ApiOkResponse({ type: AuditPageView })
  @ApiProblems(400, 401, [403, 'FORBIDDEN: admins who are not owners.'])
  async list(
    @CurrentAdmin() viewer: AuthenticatedAdmin,
    @Query() query: PageQueryDto,
  ): Promise<AuditPageView> {
    const page = await this.audit.list(viewer, query);
    return { items: page.items.map((e) => AuditEventView.from(e)), next: page.next };
  }
}
