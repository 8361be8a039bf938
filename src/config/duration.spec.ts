import { durationToSeconds } from './duration';

describe('durationToSeconds', () => {
  it.each([
    ['1800', 1800],
    ['45s', 45],
    ['30m', 1800],
    ['12h', 43200],
    ['1d', 86400],
  ])('reads %j as %d seconds', (input, seconds) => {
    expect(durationToSeconds(input)).toBe(seconds);
  });

  it.each(['', '30 m', '1w', '-5', 'abc'])('rejects %j', (input) => {
    expect(() => durationToSeconds(input)).toThrow('Invalid duration');
  });
});
