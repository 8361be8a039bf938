/**
 * `npm run tenants:move -- --org <name> --to <cluster>`: moves an
 * organization's tenant database to another cluster, as `POST /org/move`
 * does, with a progress bar over the documents copied.
 *
 * Resumable: run it again after an interruption (Ctrl-C, a crash, a lost
 * connection) and it first has the interrupted operation of that
 * organization repaired, once its lease has run out (rolled back before the
 * copy was committed, forward after), and then moves the organization if it
 * is still not on the target cluster. Needs MONGODB_URI and the service's
 * TENANT_CLUSTERS; the npm script sets MONGODB_URI to the embedded
 * development database when it is unset, as `npm start` does.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { type INestApplicationContext } from '@nestjs/common';
import { Presets, SingleBar } from 'cli-progress';
import { AppModule } from '../app.module';
import { DomainError } from '../common/errors/domain.error';
import { ErrorCode } from '../common/errors/error-codes';
import { databaseConfig, type DatabaseConfig } from '../config/configuration';
import { clusterOf } from '../database/tenant-connection.factory';
import type { MoveProgress } from './lifecycle/move-organization.operation';
import { OperationRepairService } from './lifecycle/operation-repair.service';
import { slugify } from './organization-name';
import { OrganizationsRepository } from './organizations.repository';
import { OrganizationsService } from './organizations.service';

const USAGE = 'usage: npm run tenants:move -- --org <organization name> --to <cluster>';

/** Waits for the organization's pending operation to be repaired (or finished by its owner). */
async function settlePending(app: INestApplicationContext, slug: string): Promise<void> {
  const records = app.get(OrganizationsRepository, { strict: false });
  const repair = app.get(OperationRepairService, { strict: false });
  const { operationLeaseMs } = app.get<DatabaseConfig>(databaseConfig.KEY, { strict: false });
  // A live instance renews its lease: give it a few lease periods to finish before giving up.
  const deadline = Date.now() + 3 * operationLeaseMs + 30_000;
  let announced = false;
  for (;;) {
    const org = await records.findBySlug(slug);
    const pending = org?.pending;
    if (!pending) return;
    if (!announced) {
      console.log(
        `An earlier ${pending.type} of this organization is pending (step ${pending.step}); ` +
          'it is repaired once its lease has run out.',
      );
      announced = true;
    }
    if (pending.lease_until.getTime() < Date.now()) await repair.repairStale();
    else if (Date.now() > deadline) {
      throw new Error(
        `A ${pending.type} of this organization is still running on another instance; try again once it has finished.`,
      );
    } else await sleep(Math.min(1000, operationLeaseMs / 4));
  }
}

function progressBar(): (p: MoveProgress) => void {
  const bar = new SingleBar(
    { format: 'move [{bar}] {value}/{total} documents  {step}', hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  return (p) => {
    if (!started && p.step !== 'done') {
      bar.start(Math.max(p.documentsTotal, 1), 0, { step: p.step });
      started = true;
    }
    if (!started) return;
    bar.setTotal(Math.max(p.documentsTotal, 1));
    bar.update(p.documentsCopied, { step: p.step });
    if (p.step === 'done') bar.stop();
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { org: { type: 'string' }, to: { type: 'string' } },
    strict: true,
  });
  if (!values.org || !values.to) throw new Error(USAGE);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  try {
    const slug = slugify(values.org);
    await settlePending(app, slug);
    const organizations = app.get(OrganizationsService, { strict: false });
    const current = await app.get(OrganizationsRepository, { strict: false }).findBySlug(slug);
    if (current && clusterOf(current) === values.to) {
      console.log(`${current.name} is on ${values.to}; nothing to move.`);
      return;
    }
    const move = await organizations.prepareMove(values.org, values.to);
    console.log(
      `Moving ${move.org.name} (${move.org.database_name}) from ${move.from} to ${move.to}`,
    );
    const context = { actor: undefined, ip: 'cli', requestId: `cli-${randomUUID()}` };
    const moved = await organizations.runMove(context, move, undefined, progressBar());
    console.log(`${moved.name} is on ${clusterOf(moved)}.`);
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof DomainError) {
    console.error(`${error.code}: ${error.message}`);
    if (error.code === ErrorCode.OPERATION_INTERRUPTED) console.error('Run the command again.');
  } else console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
