import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { AuthenticatedAdmin } from '../auth/authenticated-admin';
import { CurrentAdmin, OptionalAuth } from '../auth/decorators';
import { type RequestContext, ReqContext } from '../auth/request-context';
import { IdempotencyKey } from '../idempotency/idempotency-key.decorator';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { revalidatable, varyOn } from '../common/http/conditional-get';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { prefersRespondAsync } from '../common/http/prefer';
import { CreateOrganizationDto } from './dto/create-organization.dto';
import { DeleteOrganizationDto } from './dto/delete-organization.dto';
import { OrganizationNameQueryDto } from './dto/organization-name-query.dto';
import {
  OrganizationDeletedView,
  OrganizationListItemView,
  OrganizationOwnerView,
  OrganizationPageView,
  OrganizationPublicView,
} from './dto/organization.view';
import { ListOrganizationsQueryDto } from './dto/list-organizations-query.dto';
import { UpdateOrganizationDto } from './dto/update-organization.dto';
import { OperationView } from './dto/operation.view';
import type { LongAnswer } from './long-operations.service';
import { OrganizationsService } from './organizations.service';

const PREFER_HEADER = {
  name: 'Prefer',
  required: false,
  description:
    '`respond-async`: answer 202 Accepted as soon as the operation is recorded instead of waiting up to SYNC_OPERATION_BUDGET_MS.',
};

const ACCEPTED = {
  type: OperationView,
  description:
    'Still running after SYNC_OPERATION_BUDGET_MS, or `Prefer: respond-async`: poll the operation at `Location` until it has succeeded or failed.',
  headers: {
    Location: { description: '`/org/operations/{id}`', schema: { type: 'string' } },
    'Retry-After': { description: 'Seconds to wait before polling.', schema: { type: 'integer' } },
    'Preference-Applied': {
      description: '`respond-async` when the request asked for it.',
      schema: { type: 'string' },
    },
  },
};

/** Seconds a client is asked to wait before its first poll. */
const POLL_AFTER_SECONDS = 2;

/** The request's own answer, or 202 with the operation that will have it. */
function sendLongAnswer<T>(
  reply: FastifyReply,
  answer: LongAnswer<T>,
  respondAsync: boolean,
  status: HttpStatus,
): void {
  if ('done' in answer) {
    void reply.status(status).send(answer.done);
    return;
  }
  void reply
    .status(HttpStatus.ACCEPTED)
    .header('location', `/org/operations/${answer.accepted.id}`)
    .header('retry-after', String(POLL_AFTER_SECONDS))
    .header('cache-control', 'no-store');
  if (respondAsync) void reply.header('preference-applied', 'respond-async');
  void reply.send(answer.accepted);
}

@ApiTags('organizations')
@Controller('org')
export class OrganizationsController {
  constructor(
    private readonly organizations: OrganizationsService,
    private readonly idempotency: IdempotencyService,
  ) {}

  @OptionalAuth()
  @Post('create')
  @ApiBearerAuth()
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes retries safe: the same key with the same body within 24 hours replays the first response (with `Idempotent-Replayed: true`); the same key with a different body gets 422. Keys belong to the caller (the admin of the bearer token, or the client address without one). A retry while the first request runs waits for it (409 IDEMPOTENCY_IN_PROGRESS after 10 s); a key whose request died with its process is free again once its lease (OPERATION_LEASE_MS) has passed.',
  })
  @ApiOperation({
    summary: 'Create an organization and its first admin (the owner)',
    description: 'Creates the master record, the owner admin and the tenant database `org_<slug>`.',
  })
  @ApiCreatedResponse({ type: OrganizationOwnerView })
  @ApiProblems(
    400,
    413,
    415,
    [403, 'FORBIDDEN: only the super admin may choose the `cluster`.'],
    [409, 'ORG_NAME_TAKEN: the name (by slug) is in use; EMAIL_TAKEN: the email is in use.'],
  )
  async create(
    @ReqContext() context: RequestContext,
    @IdempotencyKey() key: string | undefined,
    @Body() dto: CreateOrganizationDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrganizationOwnerView> {
    if (!key) return this.organizations.create(context, dto);
    const outcome = await this.idempotency.run(
      'org.create',
      context,
      key,
      dto,
      HttpStatus.CREATED,
      () => this.organizations.create(context, dto),
    );
    if (outcome.replayed) void reply.header('idempotent-replayed', 'true');
    return outcome.body as OrganizationOwnerView;
  }

  @Get('list')
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'List organizations by slug, optionally by name prefix (super admin only)',
  })
  @ApiOkResponse({ type: OrganizationPageView })
  @ApiProblems(400, 401, [403, 'FORBIDDEN: only the super admin lists organizations.'])
  async list(
    @CurrentAdmin() viewer: AuthenticatedAdmin,
    @Query() query: ListOrganizationsQueryDto,
  ): Promise<OrganizationPageView> {
    const page = await this.organizations.list(viewer, query);
    return {
      items: page.items.map((o) => OrganizationListItemView.fromRecord(o)),
      next: page.next,
    };
  }

  @OptionalAuth()
  @Get('get')
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Get an organization by name',
    description:
      "Anyone gets the public view. With a token of one of the organization's own admins, the owner view (adds `database_name` and `admin`). A token that is sent must be valid. Without a token the answer carries an `ETag` and `Cache-Control: no-cache` (keep it, revalidate every time); with a token it is `no-store` and never a 304.",
  })
  @ApiHeader({
    name: 'If-None-Match',
    required: false,
    description: 'The ETag of a public view you hold: 304 with no body while it is current.',
  })
  @ApiExtraModels(OrganizationPublicView, OrganizationOwnerView)
  @ApiOkResponse({
    schema: {
      oneOf: [
        { $ref: getSchemaPath(OrganizationOwnerView) },
        { $ref: getSchemaPath(OrganizationPublicView) },
      ],
    },
  })
  @ApiResponse({ status: 304, description: 'Not modified: the public view you hold is current.' })
  @ApiProblems(400, 401, 404)
  async get(
    @Query() query: OrganizationNameQueryDto,
    @CurrentAdmin() viewer: AuthenticatedAdmin | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrganizationPublicView | OrganizationOwnerView | undefined> {
    // One URL, two audiences: a cache must key this answer on the token.
    varyOn(reply, 'Authorization');
    // With a token the default no-store stands, whichever view it gets.
    if (viewer) return this.organizations.get(query.organization_name, viewer);
    return revalidatable(
      request,
      reply,
      await this.organizations.get(query.organization_name, undefined),
    );
  }

  @Put('update')
  @ApiBearerAuth()
  @ApiOperation({
    summary: "Rename the token's organization and/or change the calling admin's email or password",
    description:
      'A rename that changes the slug moves the tenant data to `org_<new_slug>` (all collections, documents and indexes) before switching; past SYNC_OPERATION_BUDGET_MS (or at once with `Prefer: respond-async`) it answers 202 with the operation to poll, whose `result` is this 200 body and whose `error` the problem this request would have had. A rename together with an email or password change always answers synchronously. Email and password changes need `current_password` and revoke earlier tokens; a rename does not. A `current_password` check counts against the same per-account lock-out as a login (LOGIN_LOCKOUT): once the account is locked, 429 with Retry-After, even for the right password.',
  })
  @ApiHeader(PREFER_HEADER)
  @ApiOkResponse({ type: OrganizationOwnerView })
  @ApiAcceptedResponse(ACCEPTED)
  @ApiProblems(
    400,
    401,
    413,
    415,
    [
      403,
      "FORBIDDEN: organization_name is not the token's organization; WRONG_PASSWORD: current_password is incorrect.",
    ],
    [409, 'ORG_NAME_TAKEN, EMAIL_TAKEN, or ORG_BUSY while another rename or delete of it runs.'],
  )
  async update(
    @ReqContext() context: RequestContext,
    @Body() dto: UpdateOrganizationDto,
    @Headers('prefer') prefer: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const respondAsync = prefersRespondAsync(prefer);
    const answer = await this.organizations.update(context, dto, respondAsync);
    sendLongAnswer(reply, answer, respondAsync, HttpStatus.OK);
  }

  @Delete('delete')
  @HttpCode(HttpStatus.OK)
  @ApiBearerAuth()
  @ApiOperation({
    summary: "Delete the token's organization, its admins and its database",
    description:
      'Name it in the query string (`?organization_name=`) or in a JSON body `{"organization_name": ...}`. Tokens of the organization stop working at once; the name becomes free. Past SYNC_OPERATION_BUDGET_MS (or at once with `Prefer: respond-async`) it answers 202 with the operation to poll; since the organization\'s tokens stop working, only the super admin can poll a delete by an owner.',
  })
  @ApiBody({ type: DeleteOrganizationDto, required: false })
  @ApiHeader(PREFER_HEADER)
  @ApiOkResponse({ type: OrganizationDeletedView })
  @ApiAcceptedResponse(ACCEPTED)
  @ApiProblems(
    400,
    401,
    413,
    415,
    [403, "FORBIDDEN: the organization is not the token's, or you are not an owner."],
    404,
    [409, 'ORG_BUSY: a rename or delete of it is running.'],
  )
  async delete(
    @ReqContext() context: RequestContext,
    @Query() query: DeleteOrganizationDto,
    @Body() body: DeleteOrganizationDto,
    @Headers('prefer') prefer: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const fromQuery = query.organization_name;
    const fromBody = body?.organization_name;
    const name = fromQuery ?? fromBody;
    if (name === undefined) {
      throw new DomainError(ErrorCode.VALIDATION_FAILED, 'organization_name is required.', [
        { field: 'organization_name', message: 'organization_name is required (query or body)' },
      ]);
    }
    if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
      throw new DomainError(
        ErrorCode.VALIDATION_FAILED,
        'The query and the body name different organizations.',
        [{ field: 'organization_name', message: 'query and body disagree' }],
      );
    }
    const respondAsync = prefersRespondAsync(prefer);
    const answer = await this.organizations.delete(context, name, respondAsync);
    sendLongAnswer(reply, answer, respondAsync, HttpStatus.OK);
  }
}
