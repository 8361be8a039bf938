import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Types } from 'mongoose';
import { AuditService } from '../audit/audit.service';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { type RequestContext, ReqContext } from '../common/http/request-context';
import { AuthService } from './auth.service';
import { Public } from './decorators';
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
    description: 'Unknown email and wrong password get the same 401 body and comparable timing.',
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
}
