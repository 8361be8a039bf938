import { trimChar } from './trim';

describe('trimChar', () => {
  it.each([
    ['', ''],
    ['   ', ''],
    ['  Acme Inc  ', 'Acme Inc'],
    ['Acme  Inc', 'Acme  Inc'],
    ['\tAcme ', '\tAcme'],
    [' \u00a0Acme\u00a0 ', '\u00a0Acme\u00a0'],
  ])('trims spaces only: %j -> %j', (input, expected) => {
    expect(trimChar(input, ' ')).toBe(expected);
  });

  it('trims another character', () => {
    expect(trimChar('__acme_inc__', '_')).toBe('acme_inc');
  });

  it('returns the very string when there is nothing to trim', () => {
    const value = 'Acme';
    expect(trimChar(value, ' ')).toBe(value);
  });

  it('takes linear time on the inputs that made the old pattern quadratic', () => {
    // 'x' + 100k spaces + 'x' took seconds with /^ +| +$/g; a linear scan takes well under a millisecond.
    const interior = `x${' '.repeat(100_000)}x`;
    const padded = `${' '.repeat(50_000)}x${' '.repeat(50_000)}`;
    const started = performance.now();
    expect(trimChar(interior, ' ')).toBe(interior);
    expect(trimChar(padded, ' ')).toBe('x');
    expect(performance.now() - started).toBeLessThan(50);
  });
});
