// What `attendees import` prints: per row what happened, then one summary line.
export interface ImportRow {
  row: number;
  userId: string;
  ok: boolean;
  /** Embeddings added (with --dry-run: that would be added). */
  embeddings?: number;
  /** Photos already enrolled (same bytes) and left alone. */
  skipped?: number;
  problems?: string[];
  warnings?: string[];
}

export function printImport(report: ImportRow[], o: { json: boolean; dryRun: boolean; duplicates: string[] }): void {
  const ok = report.filter((r) => r.ok);
  const failed = report.length - ok.length;
  const added = ok.reduce((n, r) => n + (r.embeddings ?? 0), 0);
  const skipped = ok.reduce((n, r) => n + (r.skipped ?? 0), 0);
  const unchanged = ok.filter((r) => r.embeddings === 0).length;
  if (o.json) {
    process.stdout.write(JSON.stringify({ dryRun: o.dryRun, imported: ok.length - unchanged, unchanged, failed, photosEnrolled: added, photosSkipped: skipped, duplicateUserIds: o.duplicates, rows: report }) + '\n');
    return;
  }
  const would = o.dryRun ? 'would enroll' : 'enrolled';
  for (const r of report) {
    if (!r.ok) process.stdout.write(`row ${r.row} ${r.userId}: FAILED: ${r.problems!.join('; ')}\n`);
    else if (r.embeddings === 0) process.stdout.write(`row ${r.row} ${r.userId}: already enrolled from ${r.skipped} photo(s); unchanged (--replace enrolls them again)\n`);
    else process.stdout.write(`row ${r.row} ${r.userId}: ${would} ${r.embeddings} photo(s)${r.skipped ? `, ${r.skipped} already enrolled` : ''}\n`);
    for (const w of r.warnings ?? []) process.stdout.write(`row ${r.row} ${r.userId}: warning: ${w}\n`);
  }
  process.stdout.write(
    `${o.dryRun ? 'dry run, nothing written: ' : ''}${ok.length - unchanged} attendee(s) ${would}, ${unchanged} unchanged, ${failed} failed; ${added} photo(s) ${would}, ${skipped} already enrolled\n`,
  );
}
