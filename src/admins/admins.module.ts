import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { Organization, OrganizationSchema } from '../organizations/schemas/organization.schema';
import { LoginLockoutModule } from '../auth/login-lockout.module';
import { AdminsService } from './admins.service';
import { PasswordConfirmation } from './password-confirmation.service';
import { PasswordHasher } from './password-hasher.service';
import { Admin, AdminSchema } from './schemas/admin.schema';
import { SuperadminBootstrap } from './superadmin.bootstrap';

@Module({
  imports: [
    MongooseModule.forFeature([
      { name: Admin.name, schema: AdminSchema },
      // Read only, to tell an orphan admin (its organization gone) from a live one.
      { name: Organization.name, schema: OrganizationSchema },
    ]),
    LoginLockoutModule,
  ],
  providers: [AdminsService, PasswordConfirmation, PasswordHasher, SuperadminBootstrap],
  exports: [AdminsService, PasswordConfirmation],
})
export class AdminsModule {}
