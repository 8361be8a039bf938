import { Writable } from 'node:stream';

export type LogLine = Record<string, unknown>;

/** A log destination that keeps what the application writes, to read it back. */
export function captureLogs() {
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw.push(chunk.toString());
      callback();
    },
  });
  const text = () => raw.join('');
  const lines = (): LogLine[] =>
    text()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogLine);
  return { sink, text, lines };
}
