import { createSecretKey } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import { authConfig, type AuthConfig } from '../config/configuration';
import { JWT_ALGORITHM, JWT_STRATEGY } from './auth.constants';
import { AuthService } from './auth.service';
import type { AccessTokenClaims, AuthenticatedAdmin } from './authenticated-admin';
import { bearerToken } from './bearer-token';

/**
 * passport-jwt checks the signature, the algorithm (HS256 only), the issuer,
 * the audience and the expiry; the claims must then describe a live session
 * (`AuthService.resolveSession`), which is what lands on `request.user`.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, JWT_STRATEGY) {
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
