import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { AdminsModule } from '../admins/admins.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { MigrationsModule } from '../migrations/migrations.module';
import { CreateOrganizationOperation } from './lifecycle/create-organization.operation';
import { DeleteOrganizationOperation } from './lifecycle/delete-organization.operation';
import { MoveOrganizationOperation } from './lifecycle/move-organization.operation';
import { OperationHooks } from './lifecycle/operation-hooks';
import { OperationJournal } from './lifecycle/operation-journal';
import { OperationLedger } from './lifecycle/operation-ledger';
import { OperationRecords } from './lifecycle/operation-records';
import { OperationRepairService } from './lifecycle/operation-repair.service';
import { OrphanCollector } from './lifecycle/orphan-collector';
import { RenameOrganizationOperation } from './lifecycle/rename-organization.operation';
import { TenantClaims } from './lifecycle/tenant-claims';
import { TenantCopyProtocol } from './lifecycle/tenant-copy-protocol';
import { TenantDataMover } from './lifecycle/tenant-data-mover';
import { ClusterPlacement } from './cluster-placement';
import { LongOperations } from './long-operations.service';
import { OperationsController } from './operations.controller';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsService } from './organizations.service';
import { ORGANIZATION_MODELS } from './schemas/organization.schema';
import { TenantAccessModule } from './tenant-access.module';

@Module({
  imports: [
    AdminsModule,
    MigrationsModule,
    IdempotencyModule,
    TenantAccessModule,
    // The lifecycle's protocol steps write the records themselves; nobody outside this module does.
    MongooseModule.forFeature(ORGANIZATION_MODELS),
  ],
  controllers: [OrganizationsController, OperationsController],
  providers: [
    OrganizationsService,
    ClusterPlacement,
    CreateOrganizationOperation,
    RenameOrganizationOperation,
    MoveOrganizationOperation,
    DeleteOrganizationOperation,
    OperationRecords,
    OperationLedger,
    OperationJournal,
    LongOperations,
    TenantClaims,
    TenantDataMover,
    TenantCopyProtocol,
    OperationRepairService,
    OrphanCollector,
    OperationHooks,
  ],
  exports: [TenantAccessModule],
})
export class OrganizationsModule {}
