import { ORGANIZATION_NAME_PATTERN, slugify } from './organization-name';

describe('slugify', () => {
  it.each([
    ['Acme Inc', 'acme_inc'],
    ['acme_inc', 'acme_inc'],
    ['ACME-INC', 'acme_inc'],
    ['  Acme   Inc  ', 'acme_inc'],
    ['a--b__c  d', 'a_b_c_d'],
    ['Org_', 'org'],
    ['9 Lives', '9_lives'],
  ])('maps %j to %j', (name, slug) => {
    expect(slugify(name)).toBe(slug);
  });

  it('gives the same slug to names that differ only in case and separators', () => {
    expect(new Set(['Acme Inc', 'acme_inc', 'ACME-INC', 'acme - inc'].map(slugify)).size).toBe(1);
  });
});

describe('ORGANIZATION_NAME_PATTERN', () => {
  it.each(['Acme', 'Acme Inc', 'a-b_c', '123'])('accepts %j', (name) => {
    expect(ORGANIZATION_NAME_PATTERN.test(name)).toBe(true);
  });

  it.each(['-acme', '_acme', ' acme', 'acme!', 'acmé', 'a.b', 'a\u0000b', 'a\nb'])(
    'rejects %j',
    (name) => {
      expect(ORGANIZATION_NAME_PATTERN.test(name)).toBe(false);
    },
  );
});
