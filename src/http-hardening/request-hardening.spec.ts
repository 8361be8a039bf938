import type { FastifyRequest } from 'fastify';
import { DomainError } from '../common/errors/domain.error';
import {
  checkJsonValue,
  checkQueryString,
  MAX_JSON_DEPTH,
  parseJsonBody,
} from './request-hardening';

const json = (text: string) => Buffer.from(text, 'utf8');
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as DomainError).code;
  }
  return 'accepted';
};

describe('parseJsonBody', () => {
  it('parses UTF-8 JSON, with or without a utf-8 charset', () => {
    expect(parseJsonBody('application/json', json('{"a":"é"}'))).toEqual({ a: 'é' });
    expect(parseJsonBody('application/json; charset=UTF-8', json('[1]'))).toEqual([1]);
    expect(parseJsonBody('application/json;charset="utf8"', json('1'))).toBe(1);
  });

  it.each([
    ['an empty body', 'application/json', json(''), 'MALFORMED_REQUEST'],
    ['broken JSON', 'application/json', json('{"a":'), 'MALFORMED_REQUEST'],
    [
      'bytes that are not UTF-8',
      'application/json',
      Buffer.from([0x7b, 0xff, 0x7d]),
      'MALFORMED_REQUEST',
    ],
    ['another charset', 'application/json; charset=latin1', json('{}'), 'UNSUPPORTED_MEDIA_TYPE'],
  ])('refuses %s', (_label, contentType, body, code) => {
    expect(codeOf(() => parseJsonBody(contentType, body))).toBe(code);
  });

  it('keeps "__proto__" from reaching a prototype', () => {
    expect(codeOf(() => parseJsonBody('application/json', json('{"__proto__":{"x":1}}')))).toBe(
      'MALFORMED_REQUEST',
    );
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('checkJsonValue', () => {
  const nested = (depth: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = { a: value };
    return value;
  };

  it(`allows ${MAX_JSON_DEPTH} levels of nesting and refuses one more`, () => {
    expect(codeOf(() => checkJsonValue(nested(MAX_JSON_DEPTH)))).toBe('accepted');
    expect(codeOf(() => checkJsonValue(nested(MAX_JSON_DEPTH + 1)))).toBe('MALFORMED_REQUEST');
  });

  it('walks a million-deep array without exhausting the stack', () => {
    let value: unknown = [];
    for (let i = 0; i < 1_000_000; i++) value = [value];
    expect(codeOf(() => checkJsonValue(value))).toBe('MALFORMED_REQUEST');
  });

  it.each([
    ['a NUL in a string', { a: 'x\u0000' }],
    ['a NUL in a key', { 'a\u0000': 1 }],
    ['a constructor key', { nested: { constructor: { prototype: {} } } }],
    ['a prototype key', { prototype: 1 }],
    ['an unsafe integer', { n: 2 ** 53 }],
    ['Infinity', { n: Infinity }],
  ])('refuses %s', (_label, value) => {
    expect(codeOf(() => checkJsonValue(value))).toBe('MALFORMED_REQUEST');
  });

  it('accepts numbers within ±(2^53 - 1), fractions and ordinary strings', () => {
    expect(
      codeOf(() => checkJsonValue({ n: 2 ** 53 - 1, f: -1234.5678, s: 'fine', l: [null, true] })),
    ).toBe('accepted');
  });
});

describe('checkQueryString', () => {
  const request = (url: string) => ({ url, raw: { url } }) as unknown as FastifyRequest;

  it('accepts ordinary queries, + as a space and parameters without a value', () => {
    expect(codeOf(() => checkQueryString(request('/x?a=1&b=Acme+Inc&flag')))).toBe('accepted');
    expect(codeOf(() => checkQueryString(request('/x')))).toBe('accepted');
  });

  it.each([
    ['a repeated parameter', '/x?a=1&a=2', 'VALIDATION_FAILED'],
    ['a prototype key', '/x?__proto__=1', 'MALFORMED_REQUEST'],
    ['a NUL', '/x?a=%00', 'MALFORMED_REQUEST'],
    ['broken percent-encoding', '/x?a=%E0%A4', 'MALFORMED_REQUEST'],
  ])('refuses %s', (_label, url, code) => {
    expect(codeOf(() => checkQueryString(request(url)))).toBe(code);
  });
});
