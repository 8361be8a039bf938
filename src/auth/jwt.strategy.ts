import { createSecretKey } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { authConfig, type AuthConfig } from '../config/configuration';
import { JWT_ALGORITHM } from './auth.constants';
import { AuthService } from './auth.service';
import type { AccessTokenClaims, AuthenticatedAdmin } from './authenticated-admin';

/** The bearer token of a request, exactly as the strategy reads it. */
export const bearerToken: (request: unknown) => string | null =
  ExtractJwt.fromAuthHeaderAsBearerToken();

@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
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
  }

  validate(claims: Partial<AccessTokenClaims>): Promise<AuthenticatedAdmin> {
    return this.auth.resolveSession(claims);
  }
}
