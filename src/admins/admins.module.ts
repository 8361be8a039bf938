import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { LoginLockoutModule } from '../auth/login-lockout.module';
import { TenantAccessModule } from '../organizations/tenant-access.module';
import { AdminsController } from './admins.controller';
import { AdminsService } from './admins.service';
import { PasswordConfirmation } from './password-confirmation.service';
import { PasswordHasher } from './password-hasher.service';
import { Admin, AdminSchema } from './schemas/admin.schema';
import { SuperadminBootstrap } from './superadmin.bootstrap';
import { TeamService } from './team.service';

/**
 * Admin accounts (credentials, lookups, the operator account) and
 * `/org/admins`, where an organization's owners manage its admins.
 */
@Module({
  imports: [
    MongooseModule.forFeature([{ name: Admin.name, schema: AdminSchema }]),
    // Organization records: to tell an orphan admin (its organization gone) from a live one.
    TenantAccessModule,
    LoginLockoutModule,
  ],
  controllers: [AdminsController],
  providers: [
    AdminsService,
    PasswordConfirmation,
    PasswordHasher,
    SuperadminBootstrap,
    TeamService,
  ],
  exports: [AdminsService, PasswordConfirmation],
})
export class AdminsModule {}
