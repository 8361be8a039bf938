/**
 * `value` without leading and trailing runs of `char` (one UTF-16 code unit).
 *
 * Two index scans, so linear in the length whatever the input. The regular
 * expression this replaces, `/^ +| +$/g`, retried ` +$` from every space of an
 * interior run: quadratic, and a 100 kB body of spaces held a worker for
 * seconds. `regexp/no-super-linear-move` in
 * eslint.config.mjs keeps such patterns out.
 */
export function trimChar(value: string, char: string): string {
  const code = char.charCodeAt(0);
  let start = 0;
  let end = value.length;
  while (start < end && value.charCodeAt(start) === code) start++;
  while (end > start && value.charCodeAt(end - 1) === code) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}
