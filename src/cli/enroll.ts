// `gate-agent enroll` and `gate-agent identify`.
import type { Command } from 'commander';
import { startRecognition } from '../app/recognition.js';
import { enrollAttendee } from '../enroll/enroll.js';
import { readImageFile, ImageError } from '../vision/image.js';
import { assertCommandLineFits } from './argv-guard.js';
import { expandImageArgs, LIST_HELP } from './image-args.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('enroll [photos...]')
      .description('enroll an attendee of an event from one or more photos')
      .requiredOption('--event <id>', 'event id')
      .requiredOption('--user <id>', 'attendee user id')
      .option('--name <name>', 'display name')
      .option('--email <email>', 'email')
      .option('--phone <phone>', 'phone')
      .option('--qr-id <id>', 'the ticket QR code\'s text (the session\'s qrId), for gate.mode verify/either')
      .option('--list <file>', LIST_HELP)
      .addHelpText('after', '\nPhotos may be files or folders; pass many photos as a folder or --list, not on the command line.'),
  ).action(
    action(async (args: string[], opts: CommonOptions & { event: string; user: string; name?: string; email?: string; phone?: string; qrId?: string; list?: string }) => {
      assertCommandLineFits('pass a folder or --list <file> instead of the photo paths');
      const photos = await expandImageArgs(args, opts.list);
      const ctx = resolveContext(opts);
      const rec = await startRecognition(ctx.config, ctx.modelsDir, ctx.dataDir);
      try {
        const data = [];
        for (const p of photos) {
          try {
            data.push({ label: p, data: await readImageFile(p) });
          } catch (err) {
            if (err instanceof ImageError) return fail(`${p}: ${err.message}`);
            throw err;
          }
        }
        const res = await enrollAttendee(
          { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: ctx.config, embedderId: rec.embedderId },
          { eventId: opts.event, userId: opts.user, ...pick(opts), ...(opts.qrId !== undefined ? { qrId: opts.qrId } : {}), photos: data },
        );
        for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
        if (opts.json) process.stdout.write(JSON.stringify(res) + '\n');
        else process.stdout.write(res.embeddings === 0 ? `${res.userId} is already enrolled in ${opts.event} from these photo(s); nothing changed\n` : `enrolled ${res.userId} in ${opts.event} with ${res.embeddings} photo(s)${res.skipped ? ` (${res.skipped} already enrolled)` : ''}\n`);
      } finally {
        await rec.stop();
      }
    }),
  );

  withCommonOptions(
    program.command('identify <image>').description('who is the largest face in the image, among an event\'s attendees?').requiredOption('--event <id>', 'event id'),
  ).action(
    action(async (image: string, opts: CommonOptions & { event: string }) => {
      const ctx = resolveContext(opts);
      const rec = await startRecognition(ctx.config, ctx.modelsDir, ctx.dataDir);
      try {
        let buf: Buffer;
        try {
          buf = await readImageFile(image);
          const r = await rec.recognizer.identify(opts.event, buf);
          const out = {
            faces: r.faces,
            match: r.match,
            secondBest: r.secondBest,
            decision: r.decision,
            reason: r.reason,
            ...(r.detail ? { detail: r.detail } : {}),
          };
          if (opts.json) process.stdout.write(JSON.stringify(out) + '\n');
          else if (r.match) process.stdout.write(`${r.match.userId} (${r.match.name || 'no name'}), similarity ${r.match.similarity.toFixed(3)}\n`);
          else process.stdout.write(`${r.decision}: ${r.detail ?? r.reason}${r.secondBest ? '' : ''}\n`);
        } catch (err) {
          if (err instanceof ImageError) return fail(`${image}: ${err.message}`);
          throw err;
        }
      } finally {
        await rec.stop();
      }
    }),
  );
}

function pick(o: { name?: string; email?: string; phone?: string }): { name?: string; email?: string; phone?: string } {
  return { ...(o.name !== undefined ? { name: o.name } : {}), ...(o.email !== undefined ? { email: o.email } : {}), ...(o.phone !== undefined ? { phone: o.phone } : {}) };
}
