import { Injectable } from '@nestjs/common';
import type { OperationType } from '../schemas/organization.schema';

/**
 * Named points between the writes of a create, rename or delete. Production
 * does nothing here; tests replace this provider to freeze an operation at a
 * point (an awaited promise that never settles is, to the database, exactly a
 * process that died there) and then check that repair puts things right.
 */
@Injectable()
export class OperationHooks {
  reached(_type: OperationType, _point: string): Promise<void> {
    return Promise.resolve();
  }
}
