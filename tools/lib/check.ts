let passed = 0;

/** One named check of a tool's run: printed when it holds, thrown with what was seen when not. */
export function check(condition: boolean, what: string, details?: unknown): void {
  if (!condition) {
    throw new Error(
      `FAILED: ${what}${details === undefined ? '' : `\n  got: ${JSON.stringify(details)}`}`,
    );
  }
  passed += 1;
  console.log(`ok  ${what}`);
}

/** How many checks have held so far. */
export const checksPassed = (): number => passed;
