import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { IsOrganizationName } from './organization-name.decorator';

class NameDto {
  @IsOrganizationName()
  organization_name!: string;
}

const check = (value: unknown) => {
  const dto = plainToInstance(NameDto, { organization_name: value });
  return { value: dto.organization_name, errors: validateSync(dto).length };
};

describe('IsOrganizationName', () => {
  it('trims surrounding spaces, and only spaces', () => {
    expect(check('  Acme Inc  ')).toEqual({ value: 'Acme Inc', errors: 0 });
    expect(check('\tAcme Inc').errors).toBe(1);
  });

  it('leaves non-strings for the validators to refuse', () => {
    expect(check({ $gt: '' })).toEqual({ value: { $gt: '' }, errors: 1 });
  });

  it('refuses a 100 kB name of spaces in linear time (no ReDoS in the trim)', () => {
    // /^ +| +$/g took about 5 s on this input: ' +$' was retried from every space.
    const hostile = `x${' '.repeat(100_000)}x`;
    const started = performance.now();
    const result = check(hostile);
    const elapsedMs = performance.now() - started;
    expect(result.errors).toBe(1);
    expect(elapsedMs).toBeLessThan(250);
  });
});
