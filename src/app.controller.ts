import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from './auth/decorators';
import { SERVICE_NAME, SERVICE_VERSION } from './service-info';

@ApiTags('service')
@Public()
@Controller()
export class AppController {
  @Get()
  @ApiOperation({ summary: 'Service banner' })
  @ApiOkResponse({
    schema: {
      example: { status: 'ok', service: SERVICE_NAME, version: SERVICE_VERSION },
    },
  })
  root(): { status: 'ok'; service: string; version: string } {
    return { status: 'ok', service: SERVICE_NAME, version: SERVICE_VERSION };
  }
}
