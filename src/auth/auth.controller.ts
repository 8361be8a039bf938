import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { AuthService } from './auth.service';
import { Public } from './decorators';
import { LoginDto } from './dto/login.dto';
import { LoginResponseView } from './dto/login-response.view';

@ApiTags('auth')
@Controller('admin')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Log in as an admin and receive a bearer token',
    description: 'Unknown email and wrong password get the same 401 body and comparable timing.',
  })
  @ApiOkResponse({ type: LoginResponseView })
  @ApiProblems(400, 413, 415, [401, 'INVALID_CREDENTIALS: unknown email or wrong password.'])
  login(@Body() dto: LoginDto): Promise<LoginResponseView> {
    return this.auth.login(dto.email, dto.password);
  }
}
