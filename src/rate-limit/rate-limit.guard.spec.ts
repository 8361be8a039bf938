import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ThrottlerModuleOptions, ThrottlerStorage } from '@nestjs/throttler';
import { RateLimitGuard } from './rate-limit.guard';

function guardWith(options: ThrottlerModuleOptions) {
  const increment = jest.fn(() =>
    Promise.resolve({ totalHits: 1, timeToExpire: 60, isBlocked: false, timeToBlockExpire: 0 }),
  );
  const storage = { increment } as unknown as ThrottlerStorage;
  return { guard: new RateLimitGuard(options, storage, new Reflector()), increment };
}

/** A request context whose every accessor is counted. */
function countedContext() {
  const headers = jest.fn();
  const request = { method: 'GET', url: '/', ip: '203.0.113.9', routeOptions: { url: '/' } };
  const reply = { header: headers };
  const touched = jest.fn();
  const context = {
    getHandler: () => (touched(), function handler() {}),
    getClass: () => (touched(), class Controller {}),
    switchToHttp: () => (touched(), { getRequest: () => request, getResponse: () => reply }),
  } as unknown as ExecutionContext;
  return { context, touched, headers };
}

describe('RateLimitGuard', () => {
  it('with every limit off, lets requests through without looking at them or the storage', async () => {
    const { guard, increment } = guardWith({ throttlers: [] });
    await guard.onModuleInit();
    const { context, touched } = countedContext();
    await expect(guard.canActivate(context)).resolves.toBe(true);
    expect(touched).not.toHaveBeenCalled();
    expect(increment).not.toHaveBeenCalled();
  });

  it('with a limit on, counts the request and reports the budget', async () => {
    const { guard, increment } = guardWith({
      throttlers: [{ name: 'default', limit: 5, ttl: 60_000 }],
    });
    await guard.onModuleInit();
    const { context, headers } = countedContext();
    await expect(guard.canActivate(context)).resolves.toBe(true);
    expect(increment).toHaveBeenCalledTimes(1);
    expect(headers).toHaveBeenCalledWith('X-RateLimit-Remaining', 4);
  });
});
