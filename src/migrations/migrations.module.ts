import { Module } from '@nestjs/common';
import { TenantAccessModule } from '../organizations/tenant-access.module';
import { MigrationsService } from './migrations.service';

@Module({
  imports: [TenantAccessModule],
  providers: [MigrationsService],
  exports: [MigrationsService],
})
export class MigrationsModule {}
