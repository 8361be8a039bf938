import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { Organization, OrganizationSchema } from '../organizations/schemas/organization.schema';
import { AdminsService } from './admins.service';
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
  ],
  providers: [AdminsService, PasswordHasher, SuperadminBootstrap],
  exports: [AdminsService],
})
export class AdminsModule {}
