import { prefersRespondAsync } from './prefer';

describe('prefersRespondAsync', () => {
  it.each([
    ['respond-async', true],
    ['Respond-Async', true],
    ['wait=5, respond-async', true],
    ['respond-async; foo=bar', true],
    [['return=minimal', 'respond-async'], true],
    ['return=minimal', false],
    ['respond-asynchronously', false],
    ['', false],
    [undefined, false],
  ])('reads %j as %s', (header, expected) => {
    expect(prefersRespondAsync(header)).toBe(expected);
  });
});
