import { Body, Controller, HttpCode, HttpStatus, Post, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Types } from 'mongoose';
import { AuditService } from '../audit/audit.service';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { type RequestContext, ReqContext } from './request-context';
import { AuthService } from './auth.service';
import type { AuthenticatedAdmin } from './authenticated-admin';
import { AcceptsEndedSession, CurrentAdmin, Public } from './decorators';
import type { EndedSession } from './ended-session';
import { bearerToken } from './bearer-token';
import { LoginDto } from './dto/login.dto';
import { LoginResponseView } from './dto/login-response.view';

@ApiTags('auth')
@Controller('admin')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly audit: AuditService,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Log in as an admin and receive a bearer token',
    description:
      'Unknown email and wrong password get the same 401 body and comparable timing. After 10 attempts on one account within 15 minutes (LOGIN_LOCKOUT), further attempts get 429 with Retry-After, even with the right password, until the oldest attempt leaves the window; a successful login clears the count.',
  })
  @ApiOkResponse({ type: LoginResponseView })
  @ApiProblems(400, 413, 415, [401, 'INVALID_CREDENTIALS: unknown email or wrong password.'])
  async login(
    @ReqContext() context: RequestContext,
    @Body() dto: LoginDto,
  ): Promise<LoginResponseView> {
    try {
      const result = await this.auth.login(dto.email, dto.password);
      await this.audit.record(context, {
        action: 'login.succeeded',
        organizationId: result.organization ? new Types.ObjectId(result.organization.id) : null,
        actorId: new Types.ObjectId(result.admin.id),
        actorEmail: result.admin.email,
      });
      return result;
    } catch (error) {
      if (error instanceof DomainError && error.code === ErrorCode.INVALID_CREDENTIALS) {
        // The email that was tried, never the password.
        await this.audit.record(context, {
          action: 'login.failed',
          organizationId: null,
          actorId: null,
          actorEmail: dto.email,
        });
      }
      throw error;
    }
  }

  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  // A token that still reads its organization's delete can be given up too.
  @AcceptsEndedSession()
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Log out: revoke the presented token',
    description:
      "The token is refused with 401 from now until it would have expired. Other tokens of the same admin stay valid. Also takes a token whose organization was deleted, which can still read that delete's operation until it is revoked or expires.",
  })
  @ApiNoContentResponse({ description: 'The token is revoked.' })
  @ApiProblems(401)
  async logout(
    @CurrentAdmin() admin: AuthenticatedAdmin | EndedSession,
    @Req() request: FastifyRequest,
  ): Promise<void> {
    // The guard has verified this very token; it is only read again for its expiry.
    await this.auth.logout(admin, bearerToken(request)!);
  }
}
