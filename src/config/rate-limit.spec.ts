import { parseRateLimit } from './rate-limit';

describe('parseRateLimit', () => {
  it.each([
    ['30/1m', { limit: 30, windowMs: 60_000 }],
    ['10/15m', { limit: 10, windowMs: 900_000 }],
    ['1000/60', { limit: 1000, windowMs: 60_000 }],
    ['5/1h', { limit: 5, windowMs: 3_600_000 }],
  ])('reads %j', (input, expected) => {
    expect(parseRateLimit(input)).toEqual(expected);
  });

  it('reads "off" as no limit', () => {
    expect(parseRateLimit('off')).toBeNull();
  });

  it.each(['', '0/1m', '10', '10/', '/1m', '10/0m', '-1/1m', '10/1w', '1e3/1m'])(
    'rejects %j',
    (input) => {
      expect(() => parseRateLimit(input)).toThrow('Invalid rate limit');
    },
  );
});
