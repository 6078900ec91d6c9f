// Reading an attendee roster for bulk enrollment: CSV with a header row, or JSON.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { UsageError } from '../cli/format.js';

export interface RosterRow {
  /** 1-based row number in the file, for the report. */
  row: number;
  userId: string;
  name?: string;
  email?: string;
  phone?: string;
  photos: string[];
}

const splitPhotos = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(/[;|]/).map((s) => s.trim()).filter(Boolean) : [];

export async function readRoster(path: string): Promise<RosterRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`roster ${path}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
  }
  let records: Record<string, unknown>[];
  if (extname(path).toLowerCase() === '.json') {
    try {
      const data = JSON.parse(text) as unknown;
      const list = Array.isArray(data) ? data : (data as { attendees?: unknown }).attendees;
      if (!Array.isArray(list)) throw new Error('expected an array of attendees (or {"attendees": [...]})');
      records = list as Record<string, unknown>[];
    } catch (err) {
      throw new UsageError(`roster ${path}: not valid JSON: ${(err as Error).message}`);
    }
  } else {
    try {
      records = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, unknown>[];
    } catch (err) {
      throw new UsageError(`roster ${path}: not valid CSV: ${(err as Error).message}`);
    }
    if (records.length && !('userId' in records[0]!)) {
      throw new UsageError(`roster ${path}: the header must name a userId column (userId,name,email,phone,photos)`);
    }
  }
  return records.map((r, i) => {
    const opt = (k: string) => (typeof r[k] === 'string' && r[k] !== '' ? { [k]: r[k] as string } : {});
    return { row: i + 1, userId: String(r.userId ?? '').trim(), ...opt('name'), ...opt('email'), ...opt('phone'), photos: splitPhotos(r.photos ?? r.photo) };
  });
}
