import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, MongooseHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/decorators';
import { ApiProblems } from '../common/decorators/api-problems.decorator';

/** Readiness answers within this bound even when the database hangs. */
const READINESS_PING_TIMEOUT_MS = 1500;

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly mongoose: MongooseHealthIndicator,
  ) {}

  @Get('live')
  @ApiOperation({
    summary: 'Liveness: the process is up and serving HTTP (no dependencies checked)',
  })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Readiness: the master database answers a ping' })
  @ApiOkResponse({
    schema: {
      example: {
        status: 'ok',
        info: { database: { status: 'up' } },
        error: {},
        details: { database: { status: 'up' } },
      },
    },
  })
  @ApiProblems([503, 'SERVICE_UNAVAILABLE: the database did not answer a ping in time.'])
  ready() {
    return this.health.check([
      () => this.mongoose.pingCheck('database', { timeout: READINESS_PING_TIMEOUT_MS }),
    ]);
  }
}
