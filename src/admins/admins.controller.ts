import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Patch, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { CurrentAdmin } from '../auth/decorators';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { ObjectIdParam } from '../common/http/object-id.pipe';
import { type RequestContext, ReqContext } from '../auth/request-context';
import { AdminListView, AdminView } from './dto/admin.view';
import { CreateAdminDto, UpdateAdminRoleDto } from './dto/create-admin.dto';
import { TeamService } from './team.service';
import type { Types } from 'mongoose';

@ApiTags('admins')
@ApiBearerAuth()
@Controller('org/admins')
export class AdminsController {
  constructor(private readonly team: TeamService) {}

  @Post()
  @ApiOperation({ summary: 'Add an admin or owner to your organization (owners only)' })
  @ApiCreatedResponse({ type: AdminView })
  @ApiProblems(
    400,
    401,
    413,
    415,
    [403, 'FORBIDDEN: only owners add admins.'],
    [409, 'EMAIL_TAKEN, or ORG_BUSY during a rename or another team change.'],
  )
  async add(
    @ReqContext() context: RequestContext,
    @Body() dto: CreateAdminDto,
  ): Promise<AdminView> {
    return AdminView.from(await this.team.add(context, dto));
  }

  @Get()
  @ApiOperation({ summary: "List your organization's admins (any admin)" })
  @ApiOkResponse({ type: AdminListView })
  @ApiProblems(401, 403)
  async list(@CurrentAdmin() viewer: AuthenticatedAdmin): Promise<AdminListView> {
    return { items: (await this.team.list(viewer)).map((a) => AdminView.from(a)) };
  }

  @Patch(':id')
  @ApiOperation({
    summary: "Change an admin's role (owners only; the last owner cannot be demoted)",
  })
  @ApiOkResponse({ type: AdminView })
  @ApiProblems(
    400,
    401,
    413,
    415,
    [403, 'FORBIDDEN: only owners change roles.'],
    [404, 'ADMIN_NOT_FOUND'],
    [
      409,
      'LAST_OWNER: the organization would have no owner; ORG_BUSY during a rename or another team change.',
    ],
  )
  async changeRole(
    @ReqContext() context: RequestContext,
    @ObjectIdParam('id') id: Types.ObjectId,
    @Body() dto: UpdateAdminRoleDto,
  ): Promise<AdminView> {
    return AdminView.from(await this.team.changeRole(context, id, dto.role));
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    summary: 'Remove an admin (owners, or an admin removing themself); revokes their tokens',
  })
  @ApiNoContentResponse({ description: 'Removed.' })
  @ApiProblems(
    400,
    401,
    [403, 'FORBIDDEN'],
    [404, 'ADMIN_NOT_FOUND'],
    [
      409,
      'LAST_OWNER: the organization would have no owner; ORG_BUSY during a rename or another team change.',
    ],
  )
  async remove(
    @ReqContext() context: RequestContext,
    @ObjectIdParam('id') id: Types.ObjectId,
  ): Promise<void> {
    await this.team.remove(context, id);
  }
}
