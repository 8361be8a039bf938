import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AdminsModule } from '../admins/admins.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { MigrationsModule } from '../migrations/migrations.module';
import { OperationHooks } from './operation-hooks';
import { OperationLedger } from './operation-ledger';
import { OrphanCollector } from './orphan-collector';
import { OperationRepairService } from './operation-repair.service';
import { OrganizationLifecycleService } from './organization-lifecycle.service';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsRepository } from './organizations.repository';
import { OrganizationsService } from './organizations.service';
import {
  Organization,
  OrganizationSchema,
  SlugReservation,
  SlugReservationSchema,
} from './schemas/organization.schema';
import { TenantDataMover } from './tenant-data-mover';

@Module({
  imports: [
    AdminsModule,
    MigrationsModule,
    IdempotencyModule,
    MongooseModule.forFeature([
      { name: Organization.name, schema: OrganizationSchema },
      { name: SlugReservation.name, schema: SlugReservationSchema },
    ]),
  ],
  controllers: [OrganizationsController],
  providers: [
    OrganizationsRepository,
    OrganizationsService,
    OrganizationLifecycleService,
    OperationRepairService,
    OperationLedger,
    OrphanCollector,
    OperationHooks,
    TenantDataMover,
  ],
  exports: [OrganizationsRepository],
})
export class OrganizationsModule {}
