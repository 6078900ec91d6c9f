// `gate-agent events add|list|remove`.
import type { Command } from 'commander';
import { action, fail, withCommonOptions, withStore, type CommonOptions } from './common.js';
import { UsageError, parseTime, printRows } from './format.js';
import { isoWithOffset } from '../clock.js';

export function register(program: Command): void {
  const events = program.command('events').description('events whose attendees this gate admits');

  withCommonOptions(
    events
      .command('add <id>')
      .description('add or update an event')
      .option('--name <name>', 'display name')
      .option('--starts <iso>', 'start time (ISO 8601)')
      .option('--ends <iso>', 'end time (ISO 8601); attendees are deleted store.purgeGraceHours after it'),
  ).action(
    action(async (id: string, opts: CommonOptions & { name?: string; starts?: string; ends?: string }) => {
      await withStore(opts, (store, ctx) => {
        const startsAt = opts.starts ? parseTime(opts.starts, '--starts') : null;
        const endsAt = opts.ends ? parseTime(opts.ends, '--ends') : null;
        if (startsAt !== null && endsAt !== null && endsAt <= startsAt) throw new UsageError(`--ends (${opts.ends}) must be after --starts (${opts.starts})`);
        const purgeAfter = endsAt === null ? null : endsAt + ctx.config.store.purgeGraceHours * 3600_000;
        store.upsertEvent({ id, name: opts.name ?? store.getEvent(id)?.name ?? '', startsAt, endsAt, purgeAfter });
        const e = store.getEvent(id)!;
        if (opts.json) process.stdout.write(JSON.stringify(e) + '\n');
        else process.stdout.write(`event ${id} saved${purgeAfter ? `; its attendees are deleted after ${isoWithOffset(purgeAfter)}` : ''}\n`);
      });
    }),
  );

  withCommonOptions(events.command('list').description('list events with attendee counts')).action(
    action(async (opts: CommonOptions) => {
      await withStore(opts, (store, ctx) => {
        const rows = store.listEvents().map((e) => ({ ...e, notUsable: store.attendeesWithoutModel(e.id, ctx.config.models.embedder).length }));
        printRows(opts.json, rows, (e) =>
          `${e.id}\t${e.name}\t${e.startsAt ? isoWithOffset(e.startsAt) : '-'} .. ${e.endsAt ? isoWithOffset(e.endsAt) : '-'}\t${e.attendees} attendee(s)${e.notUsable ? `, ${e.notUsable} not yet usable with ${ctx.config.models.embedder}` : ''}`,
        );
      });
    }),
  );

  withCommonOptions(events.command('remove <id>').description('remove an event with its attendees and embeddings')).action(
    action(async (id: string, opts: CommonOptions) => {
      await withStore(opts, (store) => {
        if (!store.removeEvent(id)) return fail(`event "${id}" is not in the local cache; \`gate-agent events list\` shows the ones that are`);
        process.stdout.write(opts.json ? JSON.stringify({ removed: id }) + '\n' : `event ${id} removed\n`);
      });
    }),
  );
}
