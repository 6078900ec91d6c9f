// `gate-agent attendees list|show|remove|purge|import|reembed`.
import type { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { dirname, isAbsolute, resolve } from 'node:path';
import { startRecognition } from '../app/recognition.js';
import { enrollAttendee, EnrollError } from '../enroll/enroll.js';
import { duplicateIds, readRoster } from '../enroll/roster.js';
import { printImport, type ImportRow } from './import-report.js';
import { readImageFile, ImageError } from '../vision/image.js';
import { action, fail, resolveContext, withCommonOptions, withStore, type CommonOptions } from './common.js';
import { printRows } from './format.js';

type EventOpts = CommonOptions & { event: string };

export function register(program: Command): void {
  const att = program.command('attendees').description('the locally cached attendees of an event');

  withCommonOptions(att.command('list').description('list attendees').requiredOption('--event <id>', 'event id')).action(
    action(async (opts: EventOpts) => {
      await withStore(opts, (store, ctx) => {
        store.requireEvent(opts.event);
        const rows = store.listAttendees(opts.event, ctx.config.models.embedder);
        printRows(opts.json, rows, (r) => `${r.userId}\t${r.name}\t${r.embeddings} embedding(s)${r.usable ? '' : `, none for ${ctx.config.models.embedder}: not usable yet`}`);
        const notUsable = rows.filter((r) => r.usable === 0).length;
        if (!opts.json && notUsable) process.stderr.write(`${notUsable} attendee(s) not yet usable with ${ctx.config.models.embedder}; run \`gate-agent attendees reembed --event ${opts.event}\` or \`gate-agent sync\`\n`);
      });
    }),
  );

  withCommonOptions(att.command('show').description('show one attendee (KYC data is not printed)').requiredOption('--event <id>', 'event id').requiredOption('--user <id>', 'user id')).action(
    action(async (opts: EventOpts & { user: string }) => {
      await withStore(opts, (store, ctx) => {
        const s = store.getSession(opts.event, opts.user);
        if (!s) return fail(`attendee ${opts.user} is not enrolled in ${opts.event}`);
        const row = store.listAttendees(opts.event, ctx.config.models.embedder).find((r) => r.userId === opts.user)!;
        const out = { userInfo: s.userInfo, status: s.status, qrId: s.qrId, kycSteps: s.kyc.length, embeddings: row.embeddings, usableEmbeddings: row.usable };
        process.stdout.write(opts.json ? JSON.stringify(out) + '\n' : `${Object.entries(out).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')}\n`);
      });
    }),
  );

  withCommonOptions(att.command('remove').description('remove an attendee and their embeddings').requiredOption('--event <id>', 'event id').requiredOption('--user <id>', 'user id')).action(
    action(async (opts: EventOpts & { user: string }) => {
      await withStore(opts, (store) => {
        if (!store.removeAttendee(opts.event, opts.user)) return fail(`attendee ${opts.user} is not enrolled in ${opts.event}`);
        process.stdout.write(opts.json ? JSON.stringify({ removed: opts.user }) + '\n' : `removed ${opts.user}\n`);
      });
    }),
  );

  withCommonOptions(
    att
      .command('purge')
      .description('delete attendees and biometric data now: of one event (--event), or of every event past its purge time (--expired)')
      .option('--event <id>', 'event id')
      .option('--expired', 'every event whose purge time (end + store.purgeGraceHours) has passed, as the daemon does'),
  ).action(
    action(async (opts: CommonOptions & { event?: string; expired?: boolean }) => {
      if ((opts.event === undefined) === (opts.expired !== true)) return fail('attendees purge: give either --event <id> or --expired');
      await withStore(opts, (store) => {
        if (opts.expired) {
          const events = store.purgeExpired();
          process.stdout.write(opts.json ? JSON.stringify({ events }) + '\n' : events.length ? `purged the attendees of ${events.length} ended event(s): ${events.join(', ')}\n` : 'no event is past its purge time\n');
          return;
        }
        const id = opts.event!;
        store.requireEvent(id);
        const n = store.purgeEvent(id);
        process.stdout.write(opts.json ? JSON.stringify({ purged: n }) + '\n' : `deleted ${n} attendee(s) of ${id} with their embeddings\n`);
      });
    }),
  );

  withCommonOptions(
    att
      .command('import <roster>')
      .description('bulk-enroll attendees from a CSV (userId,name,email,phone,photos; "," ";" or tab between fields) or JSON roster; photos already enrolled are skipped')
      .requiredOption('--event <id>', 'event id')
      .option('--photos <dir>', 'folder the roster\'s photo names are relative to (default: the roster\'s folder)')
      .option('--dry-run', 'check every row and photo (faces, quality, duplicates) and write nothing')
      .option('--replace', 'enroll every listed photo again, replacing the attendee\'s embeddings of the configured model')
      .addHelpText('after', '\nExamples:\n  gate-agent attendees import --event gala-2026 --dry-run roster.csv\n  gate-agent attendees import --event gala-2026 --photos /media/usb/photos roster.csv'),
  ).action(
    action(async (roster: string, opts: EventOpts & { photos?: string; dryRun?: boolean; replace?: boolean }) => {
      const ctx = resolveContext(opts);
      const rows = await readRoster(roster);
      const photoDir = resolve(opts.photos ?? dirname(resolve(roster)));
      const dups = duplicateIds(rows);
      const rec = await startRecognition(ctx.config, ctx.modelsDir, ctx.dataDir);
      const bar = process.stderr.isTTY && !opts.json ? new SingleBar({ format: 'importing [{bar}] {value}/{total} {userId}' }, Presets.shades_classic) : null;
      const report: ImportRow[] = [];
      try {
        rec.store.requireOpenEvent(opts.event);
        bar?.start(rows.length, 0, { userId: '' });
        for (const r of rows) {
          bar?.increment(0, { userId: r.userId });
          try {
            if (!r.userId) throw new EnrollError('(empty)', ['userId is empty']);
            const dup = dups.get(r.userId);
            if (dup) throw new EnrollError(r.userId, [`userId ${r.userId} is on rows ${dup.join(', ')}; nothing was enrolled for it: put all its photos on one row (separated by |)`]);
            if (!r.photos.length) throw new EnrollError(r.userId, ['no photos listed']);
            const photos = [];
            for (const p of r.photos) {
              const path = resolve(photoDir, p);
              try {
                photos.push({ label: path, data: await readImageFile(path) });
              } catch (err) {
                if (err instanceof ImageError) throw new EnrollError(r.userId, [`${path}: ${err.message}${isAbsolute(p) ? '' : ` (photo "${p}" looked for in ${photoDir}; --photos <dir> sets that folder)`}`]);
                throw err;
              }
            }
            const { photos: _p, row: _r, ...who } = r;
            const res = await enrollAttendee(
              { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: ctx.config, embedderId: rec.embedderId },
              { eventId: opts.event, ...who, photos, ...(opts.replace ? { replace: true } : {}), ...(opts.dryRun ? { dryRun: true } : {}) },
            );
            report.push({ row: r.row, userId: r.userId, ok: true, embeddings: res.embeddings, skipped: res.skipped, warnings: res.warnings });
          } catch (err) {
            if (!(err instanceof EnrollError)) throw err;
            report.push({ row: r.row, userId: r.userId, ok: false, problems: err.problems });
          }
          bar?.increment(1);
        }
      } finally {
        bar?.stop();
        await rec.stop();
      }
      printImport(report, { json: opts.json === true, dryRun: opts.dryRun === true, duplicates: [...dups.keys()] });
      if (report.some((r) => !r.ok)) process.exitCode = 1;
    }),
  );

  withCommonOptions(
    att.command('reembed').description('compute embeddings for the configured model from kept enrollment photos').requiredOption('--event <id>', 'event id'),
  ).action(
    action(async (opts: EventOpts) => {
      const ctx = resolveContext(opts);
      const rec = await startRecognition(ctx.config, ctx.modelsDir, ctx.dataDir);
      try {
        rec.store.requireEvent(opts.event);
        let done = 0;
        for (const p of rec.store.photosToReembed(opts.event, rec.embedderId)) {
          const res = await rec.pipeline.analyzeEncoded(p.image, { embed: true, maxEmbedFaces: 1 });
          const f = res.faces[0];
          if (!f?.embedding) continue;
          rec.store.addEmbeddingForPhoto(opts.event, p.userId, p.photoId, { vector: f.embedding, modelId: rec.embedderId, quality: f.score, source: 'reembed' });
          done++;
        }
        const left = rec.store.attendeesWithoutModel(opts.event, rec.embedderId);
        const out = { reembedded: done, notUsable: left.length };
        process.stdout.write(
          opts.json
            ? JSON.stringify(out) + '\n'
            : `re-embedded ${done} photo(s) with ${rec.embedderId}; ${left.length} attendee(s) not yet usable${left.length ? ' (no kept photo: run `gate-agent sync` to fetch them from the central server)' : ''}\n`,
        );
      } finally {
        await rec.stop();
      }
    }),
  );
}
