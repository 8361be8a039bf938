import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { OrganizationsRepository } from './organizations.repository';
import { ORGANIZATION_MODELS } from './schemas/organization.schema';
import { TenantAccess } from './tenant-access.service';

/**
 * The organizations' master records as the rest of the service may see them:
 * `TenantAccess` (a caller's live organization) and `OrganizationsRepository`
 * (intention-revealing reads). Apart from `OrganizationsModule` so that the
 * modules the lifecycle depends on (admins, migrations) can use it without
 * an import cycle.
 */
@Module({
  imports: [MongooseModule.forFeature(ORGANIZATION_MODELS)],
  providers: [OrganizationsRepository, TenantAccess],
  exports: [OrganizationsRepository, TenantAccess],
})
export class TenantAccessModule {}
