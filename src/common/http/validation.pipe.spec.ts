import type { ArgumentMetadata } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsEmail,
  IsInt,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { DomainError } from '../errors/domain.error';
import { ErrorCode } from '../errors/error-codes';
import { createValidationPipe, documentClosedRequestBodies } from './validation.pipe';

class AddressDto {
  @IsString()
  city!: string;

  @IsOptional()
  @IsString()
  line2?: string;
}

class ContactDto {
  @IsString()
  @MinLength(3)
  @MaxLength(5)
  name!: string;
}

class CreateDto {
  @IsEmail()
  email!: string;

  @IsOptional()
  @IsString()
  nickname?: string;

  @IsOptional()
  @IsInt()
  age?: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => AddressDto)
  address?: AddressDto;

  @IsOptional()
  @ValidateNested({ each: true })
  @Type(() => ContactDto)
  contacts?: ContactDto[];
}

class PageQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  limit?: number;
}

const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({
  type: 'body',
  metatype,
});

/** The DomainError the pipe threw, or a failure naming what it did instead. */
async function refusal(value: unknown, metadata: ArgumentMetadata): Promise<DomainError> {
  try {
    await createValidationPipe().transform(value, metadata);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
}

describe('createValidationPipe', () => {
  const pipe = createValidationPipe();

  it('turns a valid body into an instance of its DTO', async () => {
    const result = await pipe.transform({ email: 'a@b.example', age: 30 }, body(CreateDto));
    expect(result).toBeInstanceOf(CreateDto);
    expect(result).toEqual({ email: 'a@b.example', age: 30 });
  });

  it('builds nested DTOs as their classes too', async () => {
    const result = (await pipe.transform(
      { email: 'a@b.example', address: { city: 'Oslo' } },
      body(CreateDto),
    )) as CreateDto;
    expect(result.address).toBeInstanceOf(AddressDto);
  });

  it('refuses an unknown field instead of dropping it', async () => {
    const error = await refusal({ email: 'a@b.example', is_admin: true }, body(CreateDto));
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.fieldErrors).toEqual([
      { field: 'is_admin', message: 'property is_admin should not exist' },
    ]);
    expect(error.message).toBe('property is_admin should not exist');
  });

  it('refuses an unknown field inside a nested object, naming its path', async () => {
    const error = await refusal(
      { email: 'a@b.example', address: { city: 'Oslo', $where: '1' } },
      body(CreateDto),
    );
    expect(error.fieldErrors).toEqual([
      { field: 'address.$where', message: 'property $where should not exist' },
    ]);
  });

  it('names nested and array fields by their dotted path', async () => {
    const error = await refusal(
      { email: 'a@b.example', address: { city: 7 }, contacts: [{ name: 'Ann' }, { name: 'X' }] },
      body(CreateDto),
    );
    expect(error.fieldErrors).toEqual([
      { field: 'address.city', message: 'city must be a string' },
      { field: 'contacts.1.name', message: 'name must be longer than or equal to 3 characters' },
    ]);
    expect(error.message).toBe('2 fields are invalid.');
  });

  it('gives one message per field even when several of its constraints fail', async () => {
    // 7 is not a string, and neither at least 3 nor at most 5 characters long.
    const error = await refusal({ email: 'a@b.example', contacts: [{ name: 7 }] }, body(CreateDto));
    expect(error.fieldErrors).toHaveLength(1);
    expect(error.fieldErrors?.[0].field).toBe('contacts.0.name');
    expect(error.message).toBe(error.fieldErrors?.[0].message);
  });

  it('says a value has the wrong type before anything about its length or pattern', async () => {
    const error = await refusal(
      { email: 'a@b.example', contacts: [{ name: {} }] },
      body(CreateDto),
    );
    expect(error.fieldErrors).toEqual([
      { field: 'contacts.0.name', message: 'name must be a string' },
    ]);
  });

  it('lists every failing field and counts them in the message', async () => {
    const error = await refusal({ email: 'nope', nickname: 5, extra: 1 }, body(CreateDto));
    expect(error.fieldErrors).toEqual(
      expect.arrayContaining([
        { field: 'email', message: 'email must be an email' },
        { field: 'nickname', message: 'nickname must be a string' },
        { field: 'extra', message: 'property extra should not exist' },
      ]),
    );
    expect(error.fieldErrors).toHaveLength(3);
    expect(error.message).toBe('3 fields are invalid.');
  });

  it('never echoes the refused value', async () => {
    const error = await refusal({ email: 'hunter2-not-an-email' }, body(CreateDto));
    expect(JSON.stringify({ message: error.message, errors: error.fieldErrors })).not.toContain(
      'hunter2',
    );
  });

  it('does not coerce a body value to the declared type', async () => {
    const error = await refusal({ email: 'a@b.example', age: '30' }, body(CreateDto));
    expect(error.fieldErrors).toEqual([{ field: 'age', message: 'age must be an integer number' }]);
  });

  it('converts a query value where the DTO asks for it', async () => {
    const result = await pipe.transform({ limit: '20' }, { type: 'query', metatype: PageQueryDto });
    expect(result).toEqual({ limit: 20 });
  });

  it.each([
    ['a string', 'just text'],
    ['an array', [{ email: 'a@b.example' }]],
    ['a number', 42],
  ])('refuses %s where an object is expected', async (_what, value) => {
    const error = await refusal(value, body(CreateDto));
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
  });

  it('leaves route params to their own pipes', async () => {
    const raw = { anything: 'goes' };
    const result = await pipe.transform(raw, { type: 'param', metatype: CreateDto, data: 'id' });
    expect(result).toBe(raw);
  });

  it('passes primitives with no DTO through', async () => {
    await expect(pipe.transform('abc', { type: 'body', metatype: String })).resolves.toBe('abc');
  });

  describe('explicit nulls', () => {
    it('refuses null for an optional body field', async () => {
      const error = await refusal({ email: 'a@b.example', nickname: null }, body(CreateDto));
      expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
      expect(error.message).toBe('nickname must not be null; leave it out instead');
      expect(error.fieldErrors).toEqual([
        { field: 'nickname', message: 'nickname must not be null; leave it out instead' },
      ]);
    });

    it('counts several null fields, once each', async () => {
      const error = await refusal(
        { email: 'a@b.example', nickname: null, age: null, address: null },
        body(CreateDto),
      );
      expect(error.message).toBe('3 fields are invalid.');
      expect(error.fieldErrors?.map((e) => e.field)).toEqual(['nickname', 'age', 'address']);
    });

    it('accepts the optional field left out', async () => {
      await expect(pipe.transform({ email: 'a@b.example' }, body(CreateDto))).resolves.toEqual({
        email: 'a@b.example',
      });
    });

    it('checks only bodies', async () => {
      await expect(
        pipe.transform({ limit: null }, { type: 'query', metatype: PageQueryDto }),
      ).resolves.toEqual({ limit: null });
    });

    it('refuses a null body like any other non-object', async () => {
      const error = await refusal(null, body(CreateDto));
      expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    });
  });
});

describe('documentClosedRequestBodies', () => {
  it('closes the schemas used as JSON request bodies, and only those', () => {
    const document = {
      openapi: '3.0.0',
      info: { title: 't', version: '1' },
      paths: {
        '/org/create': {
          post: {
            requestBody: {
              content: {
                'application/json': { schema: { $ref: '#/components/schemas/CreateDto' } },
              },
            },
            responses: {},
          },
        },
        '/org/get': { get: { responses: {} } },
      },
      components: {
        schemas: {
          CreateDto: { type: 'object' },
          OrganizationView: { type: 'object' },
        },
      },
    } as unknown as OpenAPIObject;

    const schemas = documentClosedRequestBodies(document).components!.schemas!;
    expect(schemas.CreateDto).toEqual({ type: 'object', additionalProperties: false });
    expect(schemas.OrganizationView).toEqual({ type: 'object' });
  });

  it('accepts a document without components', () => {
    const document = { openapi: '3.0.0', info: {}, paths: {} } as unknown as OpenAPIObject;
    expect(documentClosedRequestBodies(document)).toBe(document);
  });
});
