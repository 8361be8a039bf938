import { createSecretKey, randomUUID } from 'node:crypto';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { JwtService } from '@nestjs/jwt';
import { Types } from 'mongoose';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import type { AuthConfig } from '../config/configuration';
import { JWT_ALGORITHM } from './auth.constants';
import type { AuthService } from './auth.service';
import type { AccessTokenClaims, AuthenticatedAdmin } from './authenticated-admin';
import { AcceptsEndedSession, OptionalAuth, Public } from './decorators';
import { type EndedSession, SessionEndedError } from './ended-session';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256-0123456789';
const ISSUER = 'org-management-service';
const AUDIENCE = 'org-management-api';

/** Tokens signed the way AuthService signs them (secret, algorithm, issuer, audience). */
const jwtFor = (secret = SECRET) =>
  new JwtService({
    secret: createSecretKey(Buffer.from(secret)),
    signOptions: { algorithm: JWT_ALGORITHM, issuer: ISSUER, audience: AUDIENCE },
    verifyOptions: { algorithms: [JWT_ALGORITHM], issuer: ISSUER, audience: AUDIENCE },
  });

class Routes {
  @Public()
  open(): void {}

  @OptionalAuth()
  optional(): void {}

  protectedRoute(): void {}

  @AcceptsEndedSession()
  followsDelete(): void {}
}

type Request = { headers: Record<string, string>; user?: AuthenticatedAdmin | EndedSession };

function contextFor(handler: keyof Routes, authorization?: string) {
  const request: Request = { headers: authorization ? { authorization } : {} };
  const context = new ExecutionContextHost([request, {}], Routes, Routes.prototype[handler]);
  context.setType('http');
  return { context, request };
}

const orgId = new Types.ObjectId();
const owner: AuthenticatedAdmin = {
  adminId: new Types.ObjectId(),
  organizationId: orgId,
  email: 'owner@example.com',
  role: 'owner',
  tokenId: randomUUID(),
};
const superadmin: AuthenticatedAdmin = {
  adminId: new Types.ObjectId(),
  organizationId: null,
  email: 'root@example.com',
  role: 'superadmin',
  tokenId: randomUUID(),
};

describe('JwtAuthGuard', () => {
  const jwt = jwtFor();
  let resolveSession: jest.Mock<Promise<AuthenticatedAdmin>, [Partial<AccessTokenClaims>]>;
  let guard: JwtAuthGuard;

  beforeEach(() => {
    resolveSession = jest.fn((claims: Partial<AccessTokenClaims>) =>
      Promise.resolve(claims.org_id === null ? superadmin : owner),
    );
    // The strategy registers itself with passport, where the guard finds it.
    new JwtStrategy(
      { jwtSecret: SECRET, jwtIssuer: ISSUER, jwtAudience: AUDIENCE } as AuthConfig,
      { resolveSession } as unknown as AuthService,
    );
    guard = new JwtAuthGuard(new Reflector());
  });

  const tokenFor = (admin: AuthenticatedAdmin, service = jwt, options = {}) =>
    service.signAsync(
      {
        sub: String(admin.adminId),
        org_id: admin.organizationId ? String(admin.organizationId) : null,
        ver: 0,
      },
      { jwtid: admin.tokenId, expiresIn: 60, ...options },
    );

  /** The guard's refusal: its problem code and message, or 'admitted'. */
  async function outcome(handler: keyof Routes, authorization?: string) {
    const { context, request } = contextFor(handler, authorization);
    try {
      const admitted = await guard.canActivate(context);
      return { admitted, user: request.user };
    } catch (error) {
      return { refused: (error as DomainError).code, message: (error as Error).message };
    }
  }

  it('admits a public route without looking at any token', async () => {
    expect(await outcome('open')).toEqual({ admitted: true, user: undefined });
    expect(await outcome('open', 'Bearer not-a-token')).toEqual({
      admitted: true,
      user: undefined,
    });
    expect(resolveSession).not.toHaveBeenCalled();
  });

  it('admits an optional-auth route without a token, anonymously', async () => {
    expect(await outcome('optional')).toEqual({ admitted: true, user: undefined });
    expect(resolveSession).not.toHaveBeenCalled();
  });

  it('refuses a bad token on an optional-auth route instead of treating it as anonymous', async () => {
    expect(await outcome('optional', 'Bearer not-a-token')).toMatchObject({
      refused: ErrorCode.UNAUTHORIZED,
    });
  });

  it('identifies the admin of a valid token on an optional-auth route', async () => {
    expect(await outcome('optional', `Bearer ${await tokenFor(owner)}`)).toEqual({
      admitted: true,
      user: owner,
    });
  });

  it.each([
    ['no Authorization header', undefined],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['a bearer scheme without a token', 'Bearer'],
    ['a token that is not a JWT', 'Bearer not-a-token'],
  ])('refuses %s on a protected route with 401', async (_label, authorization) => {
    expect(await outcome('protectedRoute', authorization)).toEqual({
      refused: ErrorCode.UNAUTHORIZED,
      message: 'A valid bearer token is required.',
    });
    expect(resolveSession).not.toHaveBeenCalled();
  });

  it.each([
    [
      'signed with another secret',
      () => tokenFor(owner, jwtFor('another-secret-of-the-same-sort-0123456789')),
    ],
    ['signed with another algorithm', () => tokenFor(owner, jwt, { algorithm: 'HS512' })],
    ['issued by someone else', () => tokenFor(owner, jwt, { issuer: 'someone-else' })],
    ['meant for another audience', () => tokenFor(owner, jwt, { audience: 'another-api' })],
    [
      'with an alg of none',
      async () => {
        const [, payload] = (await tokenFor(owner)).split('.');
        const header = Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url');
        return `${header}.${payload}.`;
      },
    ],
  ])('refuses a token %s with 401', async (_label, token) => {
    expect(await outcome('protectedRoute', `Bearer ${await token()}`)).toMatchObject({
      refused: ErrorCode.UNAUTHORIZED,
    });
    expect(resolveSession).not.toHaveBeenCalled();
  });

  it('says that an expired token has expired', async () => {
    const expired = await tokenFor(owner, jwt, { expiresIn: -10 });
    expect(await outcome('protectedRoute', `Bearer ${expired}`)).toEqual({
      refused: ErrorCode.UNAUTHORIZED,
      message: 'The token has expired; log in again.',
    });
  });

  it('admits an organization admin with a valid token and leaves the admin on the request', async () => {
    const token = await tokenFor(owner);
    expect(await outcome('protectedRoute', `bearer ${token}`)).toEqual({
      admitted: true,
      user: owner,
    });
    expect(resolveSession).toHaveBeenCalledWith(
      expect.objectContaining({
        sub: String(owner.adminId),
        org_id: String(orgId),
        ver: 0,
        jti: owner.tokenId,
        iss: ISSUER,
        aud: AUDIENCE,
      }),
    );
  });

  it('admits the super admin, whose token names no organization', async () => {
    expect(await outcome('protectedRoute', `Bearer ${await tokenFor(superadmin)}`)).toEqual({
      admitted: true,
      user: superadmin,
    });
    expect(resolveSession).toHaveBeenCalledWith(expect.objectContaining({ org_id: null }));
  });

  it('passes on the session checks’ own refusal, and a database failure, unchanged', async () => {
    const token = `Bearer ${await tokenFor(owner)}`;
    const revoked = new DomainError(ErrorCode.UNAUTHORIZED, 'The token was revoked by a logout.');
    resolveSession.mockRejectedValueOnce(revoked);
    expect(await outcome('protectedRoute', token)).toEqual({
      refused: ErrorCode.UNAUTHORIZED,
      message: revoked.message,
    });
    const outage = new Error('Server selection timed out');
    resolveSession.mockRejectedValueOnce(outage);
    const { context } = contextFor('protectedRoute', token);
    await expect(guard.canActivate(context)).rejects.toBe(outage);
  });

  describe('a session that ended (its organization deleted)', () => {
    const ended: EndedSession = {
      ended: true,
      adminId: owner.adminId,
      organizationId: orgId,
      credentialsVersion: 0,
      tokenId: owner.tokenId,
    };
    beforeEach(() => resolveSession.mockRejectedValue(new SessionEndedError(ended)));

    it('is refused with 401 on every route that does not accept it', async () => {
      const token = `Bearer ${await tokenFor(owner)}`;
      for (const route of ['protectedRoute', 'optional'] as const) {
        expect(await outcome(route, token)).toEqual({
          refused: ErrorCode.UNAUTHORIZED,
          message: 'The token refers to an admin or organization that no longer exists.',
        });
      }
    });

    it('is handed, as what it is, to a route that accepts it', async () => {
      expect(await outcome('followsDelete', `Bearer ${await tokenFor(owner)}`)).toEqual({
        admitted: true,
        user: ended,
      });
    });

    it('still needs a valid token there', async () => {
      const forged = `Bearer ${await tokenFor(owner, jwtFor('another-secret-that-is-long-enough-for-hs256-xyz'))}`;
      expect(await outcome('followsDelete', forged)).toMatchObject({
        refused: ErrorCode.UNAUTHORIZED,
      });
      expect(await outcome('followsDelete')).toMatchObject({ refused: ErrorCode.UNAUTHORIZED });
      resolveSession.mockRejectedValueOnce(new DomainError(ErrorCode.UNAUTHORIZED, 'revoked'));
      expect(await outcome('followsDelete', `Bearer ${await tokenFor(owner)}`)).toEqual({
        refused: ErrorCode.UNAUTHORIZED,
        message: 'revoked',
      });
    });
  });
});
