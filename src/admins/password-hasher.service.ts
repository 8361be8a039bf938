import { randomBytes } from 'node:crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { authConfig, type AuthConfig } from '../config/configuration';

/**
 * bcrypt on libuv's thread pool (never the sync API, which would block the
 * event loop for ~250 ms per call at cost 12).
 */
@Injectable()
export class PasswordHasher implements OnModuleInit {
  private dummyHash!: string;

  constructor(@Inject(authConfig.KEY) private readonly config: AuthConfig) {}

  async onModuleInit(): Promise<void> {
    // Compared against when an email is unknown, so that answer takes as long
    // as a wrong password and timing does not reveal which emails exist.
    this.dummyHash = await bcrypt.hash(randomBytes(16).toString('hex'), this.config.bcryptCost);
  }

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.config.bcryptCost);
  }

  verify(password: string, hash: string | undefined): Promise<boolean> {
    return bcrypt.compare(password, hash ?? this.dummyHash).then((ok) => ok && hash !== undefined);
  }
}
