import { Global, Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import mongoose from 'mongoose';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { ClusterConnections } from './cluster-connections';
import { DatabaseAvailability } from './database-availability.service';
import { ExpiringCollections } from './expiring-collections.service';
import { MutexService } from './mutex.service';
import { TenantConnectionFactory } from './tenant-connection.factory';
import { TenantOwnership } from './tenant-ownership';
import { TenantWriteFence } from './tenant-write-fence';

// Operator objects in filters are never honoured from user input, and queries
// on unknown paths fail loudly instead of silently matching everything.
mongoose.set('sanitizeFilter', true);
mongoose.set('strictQuery', 'throw');

/** Every feature module may use these; they are the database layer's whole surface. */
const DATABASE_SERVICES = [
  ClusterConnections,
  TenantConnectionFactory,
  MutexService,
  TenantWriteFence,
  TenantOwnership,
  ExpiringCollections,
  DatabaseAvailability,
];

@Global()
@Module({
  imports: [
    MongooseModule.forRootAsync({
      inject: [databaseConfig.KEY],
      useFactory: (db: DatabaseConfig) => {
        if (!db.uri) {
          throw new Error(
            'MONGODB_URI is not set (`npm start` sets it to an embedded development database)',
          );
        }
        return {
          uri: db.uri,
          dbName: db.masterDbName,
          appName: 'org-management-service',
          // Fail fast instead of queueing commands while the database is away:
          // a request gets a 503 within the selection timeout, never a hang.
          bufferCommands: false,
          serverSelectionTimeoutMS: 5000,
          connectTimeoutMS: 5000,
          maxPoolSize: 50,
          autoIndex: false,
          autoCreate: false,
        };
      },
    }),
  ],
  providers: DATABASE_SERVICES,
  exports: DATABASE_SERVICES,
})
export class DatabaseModule {}
