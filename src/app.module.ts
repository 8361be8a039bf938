import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AdminsModule } from './admins/admins.module';
import { AppController } from './app.controller';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { configNamespaces } from './config/configuration';
import { validateEnvironment } from './config/env.validation';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { MembersModule } from './members/members.module';
import { MigrationsModule } from './migrations/migrations.module';
import { LoggingModule } from './logging/logging.module';
import { OrganizationsModule } from './organizations/organizations.module';
import { SecurityModule } from './security/security.module';
import { TeamModule } from './team/team.module';

@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      cache: false,
      load: configNamespaces,
      validate: validateEnvironment,
    }),
    LoggingModule,
    DatabaseModule,
    AdminsModule,
    OrganizationsModule,
    // Before AuthModule: its rate-limit guard then runs before the JWT guard.
    SecurityModule,
    AuthModule,
    HealthModule,
    AuditModule,
    TeamModule,
    MembersModule,
    MigrationsModule,
  ],
  controllers: [AppController],
})
export class AppModule {}
