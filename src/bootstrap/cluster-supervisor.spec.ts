import { EventEmitter } from 'node:events';
import {
  ClusterSupervisor,
  KILL_GRACE_MS,
  MAX_STARTUP_FAILURES,
  restartDelayMs,
  type SupervisedWorker,
} from './cluster-supervisor';
import { EXIT_CONFIG } from '../config/startup-refused.error';

class FakeWorker extends EventEmitter implements SupervisedWorker {
  readonly signals: string[] = [];
  readonly process: SupervisedWorker['process'];
  constructor(pid: number) {
    super();
    this.process = {
      pid,
      kill: (signal?: NodeJS.Signals) => {
        this.signals.push(signal ?? 'SIGTERM');
        return true;
      },
    };
  }
  listen(): this {
    this.emit('listening', {});
    return this;
  }
  die(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.emit('exit', code, signal);
  }
}

function setUp(size = 2, shutdownTimeoutMs = 5000) {
  const forked: FakeWorker[] = [];
  const exits: number[] = [];
  const logger = { info: jest.fn(), warn: jest.fn(), error: jest.fn(), fatal: jest.fn() };
  let clock = 0;
  const supervisor = new ClusterSupervisor({
    size,
    shutdownTimeoutMs,
    fork: () => {
      const worker = new FakeWorker(1000 + forked.length);
      forked.push(worker);
      return worker;
    },
    logger,
    exit: (code) => exits.push(code),
    now: () => clock,
  });
  return {
    supervisor,
    forked,
    exits,
    logger,
    advance: (ms: number) => {
      clock += ms;
      jest.advanceTimersByTime(ms);
    },
  };
}

describe('ClusterSupervisor', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('starts WEB_CONCURRENCY workers', () => {
    const { supervisor, forked } = setUp(3);
    supervisor.start();
    expect(forked).toHaveLength(3);
    expect(supervisor.workerCount).toBe(3);
  });

  it('replaces a worker that crashes after it was serving', () => {
    const { supervisor, forked, logger, advance } = setUp(2);
    supervisor.start();
    forked.forEach((w) => w.listen());
    forked[0].die(1);
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ worker_pid: 1000, code: 1 }),
      expect.stringContaining('replacement'),
    );
    advance(0);
    expect(forked).toHaveLength(3);
    expect(supervisor.workerCount).toBe(2);
  });

  it('backs off when workers keep crashing', () => {
    const { supervisor, forked, advance } = setUp(1);
    supervisor.start();
    forked[0].listen().die(1);
    advance(0);
    forked[1].listen().die(1); // second crash within a minute: 1 s delay
    advance(999);
    expect(forked).toHaveLength(2);
    advance(1);
    expect(forked).toHaveLength(3);
  });

  it('computes an exponential restart delay capped at 30 s', () => {
    expect([1, 2, 3, 4, 10].map(restartDelayMs)).toEqual([0, 1000, 2000, 4000, 30_000]);
  });

  it('gives up with exit 1 when workers die before they ever listen', () => {
    const { supervisor, forked, exits, logger, advance } = setUp(1);
    supervisor.start();
    for (let i = 0; i < MAX_STARTUP_FAILURES; i++) {
      forked[i].die(1);
      advance(60_000);
    }
    expect(logger.fatal).toHaveBeenCalled();
    expect(exits).toEqual([1]);
  });

  it('gives up at once, restarting nothing, when a worker refuses to start for its configuration', () => {
    const { supervisor, forked, exits, logger, advance } = setUp(2);
    supervisor.start();
    forked[0].die(EXIT_CONFIG);
    expect(logger.fatal).toHaveBeenCalledWith(
      expect.objectContaining({ worker_pid: 1000, code: EXIT_CONFIG }),
      expect.stringContaining('configuration'),
    );
    expect(forked[1].signals).toEqual(['SIGTERM']);
    forked[1].die(EXIT_CONFIG);
    advance(60_000);
    expect(forked).toHaveLength(2);
    expect(exits).toEqual([1]);
  });

  it('on shutdown sends SIGTERM to every worker and exits 0 once all drained', () => {
    const { supervisor, forked, exits } = setUp(2);
    supervisor.start();
    forked.forEach((w) => w.listen());
    supervisor.shutdown('SIGTERM');
    expect(forked.map((w) => w.signals)).toEqual([['SIGTERM'], ['SIGTERM']]);
    forked[0].die(0);
    expect(exits).toEqual([]);
    forked[1].die(0);
    expect(exits).toEqual([0]);
  });

  it('does not replace workers that exit during shutdown', () => {
    const { supervisor, forked, advance } = setUp(2);
    supervisor.start();
    forked.forEach((w) => w.listen());
    supervisor.shutdown('SIGTERM');
    forked[0].die(0);
    advance(60_000);
    expect(forked).toHaveLength(2);
  });

  it('exits 1 when a worker could not drain cleanly', () => {
    const { supervisor, forked, exits } = setUp(2);
    supervisor.start();
    forked.forEach((w) => w.listen());
    supervisor.shutdown('SIGTERM');
    forked[0].die(1);
    forked[1].die(0);
    expect(exits).toEqual([1]);
  });

  it('kills workers that outlive the drain timeout', () => {
    const { supervisor, forked, exits, advance } = setUp(1, 3000);
    supervisor.start();
    forked[0].listen();
    supervisor.shutdown('SIGTERM');
    advance(3000 + KILL_GRACE_MS);
    expect(forked[0].signals).toEqual(['SIGTERM', 'SIGKILL']);
    forked[0].die(null, 'SIGKILL');
    expect(exits).toEqual([1]);
  });

  it('ignores a second shutdown signal', () => {
    const { supervisor, forked } = setUp(1);
    supervisor.start();
    supervisor.shutdown('SIGTERM');
    supervisor.shutdown('SIGINT');
    expect(forked[0].signals).toEqual(['SIGTERM']);
  });
});
