import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Types } from 'mongoose';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { CurrentAdmin } from '../auth/decorators';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { ObjectIdParam } from '../common/http/object-id.pipe';
import { type RequestContext, ReqContext } from '../auth/request-context';
import { PageQueryDto } from '../common/http/page-query.dto';
import { CreateMemberDto, UpdateMemberDto } from './dto/member.dto';
import { MemberPageView, MemberView } from './dto/member.view';
import { MembersService } from './members.service';

const BUSY = [409, 'ORG_BUSY: a rename, move or delete holds the organization; retry shortly.'] as [
  number,
  string,
];

@ApiTags('members')
@ApiBearerAuth()
@Controller('org/members')
export class MembersController {
  constructor(private readonly members: MembersService) {}

  @Post()
  @ApiOperation({ summary: "Add a member to your organization's directory (any admin)" })
  @ApiCreatedResponse({ type: MemberView })
  @ApiProblems(400, 401, 403, 413, 415, [409, 'MEMBER_EMAIL_TAKEN, or ORG_BUSY during a rename.'])
  async create(
    @ReqContext() context: RequestContext,
    @Body() dto: CreateMemberDto,
  ): Promise<MemberView> {
    return MemberView.from(await this.members.create(context, dto));
  }

  @Get()
  @ApiOperation({ summary: 'List members, oldest first, with cursor pagination' })
  @ApiOkResponse({ type: MemberPageView })
  @ApiProblems(400, 401, 403)
  async list(
    @CurrentAdmin() viewer: AuthenticatedAdmin,
    @Query() query: PageQueryDto,
  ): Promise<MemberPageView> {
    const page = await this.members.list(viewer, query);
    return { items: page.items.map((m) => MemberView.from(m)), next: page.next };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one member' })
  @ApiOkResponse({ type: MemberView })
  @ApiProblems(400, 401, 403, [404, 'MEMBER_NOT_FOUND'])
  async get(
    @CurrentAdmin() viewer: AuthenticatedAdmin,
    @ObjectIdParam('id') id: Types.ObjectId,
  ): Promise<MemberView> {
    return MemberView.from(await this.members.get(viewer, id));
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a member (metadata is replaced whole)' })
  @ApiOkResponse({ type: MemberView })
  @ApiProblems(
    400,
    401,
    403,
    413,
    415,
    [404, 'MEMBER_NOT_FOUND'],
    [409, 'MEMBER_EMAIL_TAKEN, or ORG_BUSY during a rename.'],
  )
  async update(
    @ReqContext() context: RequestContext,
    @ObjectIdParam('id') id: Types.ObjectId,
    @Body() dto: UpdateMemberDto,
  ): Promise<MemberView> {
    return MemberView.from(await this.members.update(context, id, dto));
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Remove a member' })
  @ApiNoContentResponse({ description: 'Removed.' })
  @ApiProblems(400, 401, 403, [404, 'MEMBER_NOT_FOUND'], BUSY)
  async remove(
    @ReqContext() context: RequestContext,
    @ObjectIdParam('id') id: Types.ObjectId,
  ): Promise<void> {
    await this.members.remove(context, id);
  }
}
