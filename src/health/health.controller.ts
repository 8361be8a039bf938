import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheckService,
  type HealthIndicatorResult,
  MongooseHealthIndicator,
} from '@nestjs/terminus';
import { Public } from '../auth/decorators';
import { ApiProblems } from '../common/decorators/api-problems.decorator';
import { ClusterConnections } from '../database/cluster-connections';

/** Readiness answers within this bound even when the database hangs. */
const READINESS_PING_TIMEOUT_MS = 1500;

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly mongoose: MongooseHealthIndicator,
    private readonly clusters: ClusterConnections,
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
  @ApiOperation({
    summary: 'Readiness: the master database answers a ping; each tenant cluster is reported',
    description:
      "Only the master database decides readiness (503 when it does not answer). A tenant cluster that is down shows as `down` under `clusters.states`, with the top-level status `degraded`: it fails only its own organizations' requests.",
  })
  @ApiOkResponse({
    schema: {
      example: {
        status: 'degraded',
        info: {
          database: { status: 'up' },
          clusters: { status: 'degraded', states: { default: 'up', 'eu-2': 'down' } },
        },
        error: {},
        details: {
          database: { status: 'up' },
          clusters: { status: 'degraded', states: { default: 'up', 'eu-2': 'down' } },
        },
      },
    },
  })
  @ApiProblems([503, 'SERVICE_UNAVAILABLE: the master database did not answer a ping in time.'])
  ready() {
    return this.health.check([
      () => this.mongoose.pingCheck('database', { timeout: READINESS_PING_TIMEOUT_MS }),
      () => this.tenantClusters(),
    ]);
  }

  /** Every cluster's state; `degraded` (never `down`) so that a tenant cluster cannot fail readiness. */
  private async tenantClusters(): Promise<HealthIndicatorResult> {
    const names = this.clusters.names();
    const states = await Promise.all(
      names.map((name) => this.clusters.status(name, READINESS_PING_TIMEOUT_MS)),
    );
    return {
      clusters: {
        status: states.includes('down') ? 'degraded' : 'up',
        states: Object.fromEntries(names.map((name, i) => [name, states[i]])),
      },
    };
  }
}
