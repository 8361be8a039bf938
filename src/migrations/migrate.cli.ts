/**
 * `npm run migrate`: applies pending master and tenant migrations, with a
 * progress bar over tenants. Safe to interrupt and run again. Needs
 * MONGODB_URI; the npm script sets it to the embedded development database
 * when it is unset, as `npm start` does.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { SingleBar, Presets } from 'cli-progress';
import { AppModule } from '../app.module';
import { MigrationsService } from './migrations.service';

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  try {
    const bar = new SingleBar(
      { format: 'tenants [{bar}] {value}/{total} {database}', hideCursor: true },
      Presets.shades_classic,
    );
    let started = false;
    const report = await app.get(MigrationsService).migrateAll((p) => {
      if (!started) {
        bar.start(p.total, 0, { database: '' });
        started = true;
      }
      bar.update(p.done, { database: p.database });
    });
    if (started) bar.stop();
    console.log(
      `master: v${report.master.from} -> v${report.master.to}; tenants: ${report.tenants.migrated} migrated, ` +
        `${report.tenants.upToDate} already current, ${report.tenants.skipped.length} skipped (busy, or cluster unreachable)` +
        (report.tenants.skipped.length
          ? `: ${report.tenants.skipped.join(', ')} (run again later)`
          : ''),
    );
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
