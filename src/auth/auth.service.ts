import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { Types } from 'mongoose';
import { AdminsService } from '../admins/admins.service';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { authConfig, type AuthConfig } from '../config/configuration';
import { TenantAccess } from '../organizations/tenant-access.service';
import { LoginLockoutService } from './login-lockout.service';
import type { AccessTokenClaims, AuthenticatedAdmin } from './authenticated-admin';
import { type EndedSession, SessionEndedError } from './ended-session';
import type { LoginResponseView } from './dto/login-response.view';
import { durationToSeconds } from '../config/duration';
import { TokenRevocationService } from './token-revocation.service';

const invalidCredentials = () =>
  new DomainError(ErrorCode.INVALID_CREDENTIALS, 'The email or password is incorrect.');

export const unauthorized = (detail = 'A valid bearer token is required.') =>
  new DomainError(ErrorCode.UNAUTHORIZED, detail);

@Injectable()
export class AuthService {
  private readonly expiresInSeconds: number;

  constructor(
    private readonly admins: AdminsService,
    private readonly access: TenantAccess,
    private readonly jwt: JwtService,
    private readonly lockout: LoginLockoutService,
    private readonly revocations: TokenRevocationService,
    @Inject(authConfig.KEY) config: AuthConfig,
  ) {
    this.expiresInSeconds = durationToSeconds(config.jwtExpiresIn);
  }

  async login(email: string, password: string): Promise<LoginResponseView> {
    // Counted before the password is checked: a locked account answers 429
    // whether or not the password is right.
    const attempt = await this.lockout.admit(email);
    const admin = await this.admins.authenticate(email, password);
    if (!admin) throw invalidCredentials();
    // The super admin belongs to no organization; everyone else must belong
    // to a live one. A half-created or deleted organization gets the same
    // answer as a wrong password.
    const org = admin.organization_id ? await this.access.findLive(admin.organization_id) : null;
    if (admin.role !== 'superadmin' && !org) throw invalidCredentials();
    await this.lockout.succeeded(attempt);
    const claims = {
      sub: String(admin._id),
      org_id: org ? String(org._id) : null,
      ver: admin.credentials_version,
    };
    const access_token = await this.jwt.signAsync(claims, {
      jwtid: randomUUID(),
      expiresIn: this.expiresInSeconds,
    });
    return {
      access_token,
      token_type: 'bearer',
      expires_in: this.expiresInSeconds,
      admin: { id: String(admin._id), email: admin.email, role: admin.role },
      organization: org ? { id: String(org._id), organization_name: org.name } : null,
    };
  }

  /** Revokes the presented (already verified) token until it would have expired. */
  async logout(admin: AuthenticatedAdmin | EndedSession, token: string): Promise<void> {
    const { exp } = this.jwt.decode<{ exp?: unknown }>(token) ?? {};
    const expiresAt =
      typeof exp === 'number' ? exp * 1000 : Date.now() + this.expiresInSeconds * 1000;
    await this.revocations.revoke(admin.tokenId, admin.adminId, new Date(expiresAt));
  }

  /**
   * Runs after the signature, algorithm, issuer, audience and times have been
   * verified: the token must still describe a live admin of a live
   * organization with unchanged credentials.
   */
  async resolveSession(claims: Partial<AccessTokenClaims>): Promise<AuthenticatedAdmin> {
    const { sub, org_id, ver, jti, iat, exp } = claims;
    if (
      typeof sub !== 'string' ||
      (typeof org_id !== 'string' && org_id !== null) ||
      typeof jti !== 'string' ||
      typeof ver !== 'number' ||
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      !Types.ObjectId.isValid(sub) ||
      (org_id !== null && !Types.ObjectId.isValid(org_id))
    ) {
      throw unauthorized('The token is missing required claims.');
    }
    // Looked up alongside the admin and organization, awaited after them.
    const revoked = this.revocations.isRevoked(jti);
    revoked.catch(() => undefined);
    const adminId = new Types.ObjectId(sub);
    const organizationId = org_id === null ? null : new Types.ObjectId(org_id);
    const [admin, org] = await Promise.all([
      this.admins.findById(adminId),
      organizationId ? this.access.findLive(organizationId) : Promise.resolve(null),
    ]);
    const sameOrganization = organizationId
      ? admin?.organization_id?.equals(organizationId) === true && org !== null
      : admin?.role === 'superadmin' && !admin.organization_id;
    if (await revoked) throw unauthorized('The token was revoked by a logout; log in again.');
    if (!admin || !sameOrganization) {
      // A (former) member of an organization: still who they were, for the
      // one route that serves them (their organization's delete operation).
      if (organizationId && (!admin || admin.organization_id?.equals(organizationId))) {
        throw new SessionEndedError({
          ended: true,
          adminId,
          organizationId,
          credentialsVersion: ver,
          tokenId: jti,
        });
      }
      throw unauthorized('The token refers to an admin or organization that no longer exists.');
    }
    if (admin.credentials_version !== ver) {
      throw unauthorized('The token was revoked by a credentials change; log in again.');
    }
    return {
      adminId,
      organizationId,
      organization: org ?? undefined,
      email: admin.email,
      role: admin.role,
      tokenId: jti,
    };
  }
}
