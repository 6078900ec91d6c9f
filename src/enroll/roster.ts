// Reading an attendee roster for bulk enrollment: CSV with a header row, or JSON.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { errorText } from '../errors.js';

/** A roster the technician must fix; shown as one line, like the CLI's usage errors. */
export class RosterError extends Error {
  override name = 'UsageError';
}

export interface RosterRow {
  /** 1-based row number in the file, for the report. */
  row: number;
  userId: string;
  name?: string;
  email?: string;
  phone?: string;
  photos: string[];
}

const splitPhotos = (v: unknown, sep: RegExp): string[] =>
  Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(sep).map((s) => s.trim()).filter(Boolean) : [];

/**
 * The field delimiter, from the header line: `,`, or `;` (German and other Excel locales
 * write `;` when `,` is the decimal separator), or a tab.
 */
export function detectDelimiter(text: string): ',' | ';' | '\t' {
  const header = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const counts = ([',', ';', '\t'] as const).map((d) => ({ d, n: header.split(d).length - 1 }));
  counts.sort((a, b) => b.n - a.n);
  return counts[0]!.n > 0 ? counts[0]!.d : ',';
}

/** userIds listed on more than one row: userId -> the rows. */
export function duplicateIds(rows: RosterRow[]): Map<string, number[]> {
  const by = new Map<string, number[]>();
  for (const r of rows) if (r.userId) by.set(r.userId, [...(by.get(r.userId) ?? []), r.row]);
  return new Map([...by].filter(([, list]) => list.length > 1));
}

export async function readRoster(path: string): Promise<RosterRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RosterError(`roster ${path}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
  }
  let records: Record<string, unknown>[];
  let photoSep = /[;|]/;
  if (extname(path).toLowerCase() === '.json') {
    try {
      const data = JSON.parse(text) as unknown;
      const list = Array.isArray(data) ? data : (data as { attendees?: unknown }).attendees;
      if (!Array.isArray(list)) throw new Error('expected an array of attendees (or {"attendees": [...]})');
      records = list as Record<string, unknown>[];
    } catch (err) {
      throw new RosterError(`roster ${path}: not valid JSON: ${errorText(err)}`);
    }
  } else {
    const delimiter = detectDelimiter(text);
    // With `;` between fields, several photos in one field are separated by `|`.
    if (delimiter === ';') photoSep = /\|/;
    try {
      records = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true, delimiter }) as Record<string, unknown>[];
    } catch (err) {
      throw new RosterError(`roster ${path}: not valid CSV (fields separated by "${delimiter === '\t' ? 'tab' : delimiter}"): ${errorText(err)}`);
    }
    if (records.length && !('userId' in records[0]!)) {
      const seen = Object.keys(records[0]!).join(', ');
      throw new RosterError(
        `roster ${path}: the header must name a userId column; it names: ${seen}. Use a header like userId,name,email,phone,photos (or the same separated by ";" or tabs)`,
      );
    }
  }
  return records.map((r, i) => {
    const opt = (k: string) => (typeof r[k] === 'string' && r[k] !== '' ? { [k]: r[k] as string } : {});
    return { row: i + 1, userId: String(r.userId ?? '').trim(), ...opt('name'), ...opt('email'), ...opt('phone'), photos: splitPhotos(r.photos ?? r.photo, photoSep) };
  });
}
