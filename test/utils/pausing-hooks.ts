import { OperationHooks } from '../../src/organizations/lifecycle/operation-hooks';
import type { OperationType } from '../../src/organizations/schemas/organization.schema';

/**
 * Pauses one operation at one point until the test resumes it: to the
 * database, a process stopped there (SIGSTOP, a long GC, a frozen VM) that
 * later goes on as if nothing had happened.
 */
export class PausingHooks extends OperationHooks {
  readonly paused: Promise<void>;
  private markPaused!: () => void;
  private release!: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));
  private done = false;

  constructor(
    private readonly type: OperationType,
    private readonly point: string,
  ) {
    super();
    this.paused = new Promise((resolve) => (this.markPaused = resolve));
  }

  override reached(type: OperationType, point: string): Promise<void> {
    if (this.done || type !== this.type || point !== this.point) return Promise.resolve();
    this.done = true;
    this.markPaused();
    return this.gate;
  }

  resume(): void {
    this.release();
  }
}
