import { Module } from '@nestjs/common';
import { TenantAccessModule } from '../organizations/tenant-access.module';
import { MembersController } from './members.controller';
import { MembersRepository } from './members.repository';
import { MembersService } from './members.service';

@Module({
  imports: [TenantAccessModule],
  controllers: [MembersController],
  providers: [MembersService, MembersRepository],
})
export class MembersModule {}
