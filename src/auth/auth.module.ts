import { createSecretKey } from 'node:crypto';
import { Inject, Logger, Module, type OnModuleInit } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { AdminsModule } from '../admins/admins.module';
import { authConfig, type AuthConfig } from '../config/configuration';
import { OrganizationsModule } from '../organizations/organizations.module';
import { JWT_ALGORITHM } from './auth.constants';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { LoginLockoutModule } from './login-lockout.module';
import { TokenRevocationService } from './token-revocation.service';

@Module({
  imports: [
    AdminsModule,
    OrganizationsModule,
    LoginLockoutModule,
    PassportModule,
    JwtModule.registerAsync({
      inject: [authConfig.KEY],
      useFactory: (config: AuthConfig) => ({
        secret: createSecretKey(Buffer.from(config.jwtSecret)),
        signOptions: {
          algorithm: JWT_ALGORITHM,
          issuer: config.jwtIssuer,
          audience: config.jwtAudience,
        },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [AuthService, TokenRevocationService, JwtStrategy, JwtAuthGuard],
  // The guard is registered globally by AppModule, which declares the order of all global guards.
  exports: [JwtAuthGuard],
})
export class AuthModule implements OnModuleInit {
  constructor(@Inject(authConfig.KEY) private readonly config: AuthConfig) {}

  onModuleInit(): void {
    if (this.config.jwtSecretGenerated) {
      new Logger(AuthModule.name).warn(
        'JWT_SECRET is not set: using a random secret for this process only. Tokens stop working on restart; set JWT_SECRET (openssl rand -base64 48).',
      );
    }
  }
}
