import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_GUARD } from '@nestjs/core';
import { AdminsModule } from './admins/admins.module';
import { AppController } from './app.controller';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { JwtAuthGuard } from './auth/jwt-auth.guard';
import { configNamespaces } from './config/configuration';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { MembersModule } from './members/members.module';
import { MigrationsModule } from './migrations/migrations.module';
import { LoggingModule } from './logging/logging.module';
import { OrganizationsModule } from './organizations/organizations.module';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { RateLimitModule } from './rate-limit/rate-limit.module';

@Module({
  imports: [
    // The environment and .env were read once, by processConfig(); the module only serves that.
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      validatePredefined: false,
      skipProcessEnv: true,
      load: configNamespaces,
    }),
    LoggingModule,
    DatabaseModule,
    AdminsModule,
    OrganizationsModule,
    RateLimitModule,
    AuthModule,
    HealthModule,
    AuditModule,
    MembersModule,
    MigrationsModule,
  ],
  controllers: [AppController],
  // Every global guard, in the order they run: a flood is refused before
  // any token is verified (which costs a database round trip).
  providers: [
    { provide: APP_GUARD, useExisting: RateLimitGuard },
    { provide: APP_GUARD, useExisting: JwtAuthGuard },
  ],
})
export class AppModule {}
