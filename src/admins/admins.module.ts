import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AdminsService } from './admins.service';
import { PasswordHasher } from './password-hasher.service';
import { Admin, AdminSchema } from './schemas/admin.schema';
import { SuperadminBootstrap } from './superadmin.bootstrap';

@Module({
  imports: [MongooseModule.forFeature([{ name: Admin.name, schema: AdminSchema }])],
  providers: [AdminsService, PasswordHasher, SuperadminBootstrap],
  exports: [AdminsService],
})
export class AdminsModule {}
