/**
 * Flow records for the insight commands (`preview`, `recommend`, `graph`, `report`): one or more
 * `--flows` files (JSON lines or a JSON array of Calico-shaped records, `-` for standard input)
 * read as a stream, each record checked by core with its file, line and field named when bad.
 * Never holds more than one record's text at a time; what the caller keeps is its own choice.
 */
import { validateFlowRecord, type FlowRecord } from '@gingham/core';
import { openFlows } from './commands/check.js';
import { readFlowEntries } from './flows-file.js';
import type { CliIo } from './io.js';
import { escapeText } from './term.js';

/** A record that could not be read: where, and why. */
export interface BadRecord {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

export interface FlowRecordsRead {
  readonly records: number;
  readonly bad: readonly BadRecord[];
  /** Bad records beyond the first `keepBad`, counted only. */
  readonly moreBad: number;
}

/** Reads every `--flows` path in order, calling `onRecord` for each good record. */
export async function readFlowRecords(
  paths: readonly string[],
  manifests: readonly string[],
  io: CliIo,
  onRecord: (record: FlowRecord) => void,
  keepBad = 20,
): Promise<FlowRecordsRead> {
  const bad: BadRecord[] = [];
  let moreBad = 0;
  let records = 0;
  const fail = (b: BadRecord): void => {
    if (bad.length < keepBad) bad.push(b);
    else moreBad++;
  };
  for (const path of paths) {
    const file = path === '-' ? '<stdin>' : path;
    const source = await openFlows(path, { file: [...manifests] }, io);
    for await (const item of readFlowEntries(source, { maxEntryBytes: 256 * 1024 })) {
      if (item.kind === 'file-problem') {
        fail({ file, line: item.line, col: item.col, message: `${item.message}; the records before it were read` });
        break;
      }
      if (item.kind === 'bad-entry') {
        fail({ file, line: item.line, col: item.col, message: item.message });
        continue;
      }
      const checked = validateFlowRecord(item.value);
      if (!checked.ok) {
        fail({ file, line: item.line, col: item.col, message: `${checked.path ? `${checked.path} ` : ''}${checked.message}` });
        continue;
      }
      records++;
      onRecord(checked.record);
    }
  }
  return { records, bad, moreBad };
}

/** The bad records as lines for standard error. */
export function renderBadRecords(read: FlowRecordsRead): string {
  const lines = read.bad.map((b) => `${escapeText(b.file)}:${b.line}:${b.col}: ${escapeText(b.message)}`);
  if (read.moreBad > 0) lines.push(`… and ${read.moreBad} more bad record(s)`);
  return lines.join('\n');
}
