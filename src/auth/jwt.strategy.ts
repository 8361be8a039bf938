import { createSecretKey } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import passport from 'passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { authConfig, type AuthConfig } from '../config/configuration';
import { JWT_ALGORITHM } from './auth.constants';
import { AuthService } from './auth.service';
import type { AccessTokenClaims, AuthenticatedAdmin } from './authenticated-admin';

/** The bearer token of a request, exactly as the strategy reads it. */
export const bearerToken: (request: unknown) => string | null =
  ExtractJwt.fromAuthHeaderAsBearerToken();

const STRATEGY_NAME = 'jwt';

/**
 * Passport keeps one strategy per name per process, and each application
 * registers its own on start. A process normally holds one application, but
 * the e2e tests hold several: when one closes, the name
 * goes back to the newest one still open, instead of staying with a strategy
 * whose database connection is closed.
 */
const openStrategies: JwtStrategy[] = [];

@Injectable()
export class JwtStrategy
  extends PassportStrategy(Strategy, STRATEGY_NAME)
  implements OnModuleDestroy
{
  constructor(
    @Inject(authConfig.KEY) config: AuthConfig,
    private readonly auth: AuthService,
  ) {
    super({
      jwtFromRequest: bearerToken,
      // A KeyObject, derived once: jsonwebtoken would otherwise rebuild the
      // key from the string secret on every request. The typings predate
      // KeyObject support in jsonwebtoken 9, hence the cast.
      secretOrKey: createSecretKey(Buffer.from(config.jwtSecret)) as unknown as string,
      algorithms: [JWT_ALGORITHM],
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      ignoreExpiration: false,
    });
    openStrategies.push(this);
  }

  onModuleDestroy(): void {
    const index = openStrategies.indexOf(this);
    if (index >= 0) openStrategies.splice(index, 1);
    const newest = openStrategies.at(-1);
    if (newest) passport.use(STRATEGY_NAME, newest);
  }

  validate(claims: Partial<AccessTokenClaims>): Promise<AuthenticatedAdmin> {
    return this.auth.resolveSession(claims);
  }
}
