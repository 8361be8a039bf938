import { OperationHooks } from '../../src/organizations/lifecycle/operation-hooks';
import type { OperationType } from '../../src/organizations/schemas/organization.schema';

/**
 * Freezes one operation at one point forever. To the database that is the
 * same as the process dying there: nothing after the point is ever written.
 */
export class FreezingHooks extends OperationHooks {
  readonly frozen: Promise<void>;
  private markFrozen!: () => void;

  constructor(
    private readonly type: OperationType,
    private readonly point: string,
  ) {
    super();
    this.frozen = new Promise((resolve) => (this.markFrozen = resolve));
  }

  override reached(type: OperationType, point: string): Promise<void> {
    if (type !== this.type || point !== this.point) return Promise.resolve();
    this.markFrozen();
    return new Promise(() => undefined);
  }
}
