import { trimChar } from '../common/text/trim';

/** Letters, digits, spaces, `-` and `_`, starting with a letter or digit. */
export const ORGANIZATION_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _-]*$/;
export const ORGANIZATION_NAME_MIN = 3;
export const ORGANIZATION_NAME_MAX = 50;

/**
 * The identity of an organization name: lower case, each run of characters
 * other than a-z0-9 collapsed to `_`, no leading or trailing `_`. "Acme Inc",
 * "acme_inc" and "ACME-INC" share the slug `acme_inc` and so are one name.
 */
export function slugify(name: string): string {
  return trimChar(
    name
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_'),
    '_',
  );
}
