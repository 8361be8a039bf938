import { Writable } from 'node:stream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { AppModule } from '../src/app.module';
import { configureApp, createFastifyAdapter } from '../src/app.setup';
import { LOG_DESTINATION } from '../src/logging/logging.constants';
import { uniqueMasterDb, uniqueSuffix } from './utils/test-app';

describe('LOG_LEVEL (e2e)', () => {
  let app: NestFastifyApplication;
  const raw: string[] = [];

  beforeAll(async () => {
    process.env.MASTER_DB_NAME = uniqueMasterDb();
    process.env.LOG_LEVEL = 'warn';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        raw.push(chunk.toString());
        callback();
      },
    });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(LOG_DESTINATION)
      .useValue(sink)
      .compile();
    app = configureApp(
      moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter()),
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(async () => {
    await app.close();
  });

  it('drops lines below LOG_LEVEL and keeps the rest', async () => {
    const ok = `ok-${uniqueSuffix()}`;
    const missing = `missing-${uniqueSuffix()}`;
    await request(app.getHttpServer()).get('/').set('X-Request-Id', ok).expect(200);
    await request(app.getHttpServer()).get('/nope').set('X-Request-Id', missing).expect(404);

    const output = raw.join('');
    expect(output).not.toContain(ok);
    expect(output).toContain(missing);
    // Nest's start-up lines are info too: nothing of them either.
    expect(output).not.toContain('Nest application successfully started');
  });
});
