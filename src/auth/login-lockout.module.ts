import { Module } from '@nestjs/common';
import { LoginLockoutService } from './login-lockout.service';

/**
 * The per-account lock-out on its own, because both password checks use it:
 * the login (AuthModule) and the `current_password` of a credentials change
 * (AdminsModule, which AuthModule itself imports).
 */
@Module({
  providers: [LoginLockoutService],
  exports: [LoginLockoutService],
})
export class LoginLockoutModule {}
