import { ApiProperty } from '@nestjs/swagger';
import type { AdminRecord } from '../admins.service';
import type { AdminRole } from '../schemas/admin.schema';

export class AdminView {
  /** @example "665f1c2b9d3e4a0012345679" */
  id!: string;
  /** @example "ops@acme.test" */
  email!: string;

  @ApiProperty({ enum: ['owner', 'admin'], example: 'admin' })
  role!: AdminRole;

  static from(admin: AdminRecord): AdminView {
    return { id: String(admin._id), email: admin.email, role: admin.role };
  }
}

export class AdminListView {
  @ApiProperty({ type: [AdminView] })
  items!: AdminView[];
}
