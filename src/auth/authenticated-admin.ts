import type { Types } from 'mongoose';
import type { AdminRole } from '../admins/schemas/admin.schema';
import type { LiveOrganization } from '../organizations/tenant-access.service';

/** What a verified token proves: this admin of this organization, right now. */
export interface AuthenticatedAdmin {
  adminId: Types.ObjectId;
  /** Null for the super admin, who belongs to no organization. */
  organizationId: Types.ObjectId | null;
  /** The organization as the token check read it (absent for the super admin). */
  organization?: LiveOrganization;
  email: string;
  role: AdminRole;
  tokenId: string;
}

/** The claims we issue and require. Every one is checked on every request. */
export interface AccessTokenClaims {
  sub: string;
  /** Null in the super admin's tokens. */
  org_id: string | null;
  /** The admin's credentials version when the token was issued. */
  ver: number;
  jti: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
}
