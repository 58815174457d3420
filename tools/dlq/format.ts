/** Text rendering for the DLQ tool (pure; the CLI prints these). */
import type { RedriveResult } from './dlq-client';
import type { DlqEntry, DlqGroup } from './entries';

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
}

export function formatList(groups: readonly DlqGroup[], total: number, dlqUrl: string): string {
  if (total === 0) return `DLQ ${dlqUrl} is empty.`;
  const lines = [`DLQ ${dlqUrl}: ${total} message${total === 1 ? '' : 's'} in ${groups.length} class${groups.length === 1 ? '' : 'es'}`, ''];
  for (const g of groups) {
    const note = g.kind === 'permanent' ? 'permanent: redrive refused without --force' : g.kind === 'exhausted' ? 'retries exhausted: redrivable' : 'retryable: redrivable';
    lines.push(`${g.errorClass}  ${g.count}  (${note})`);
    for (const r of g.reasons.slice(0, 5)) lines.push(`    ${String(r.count).padStart(5)}  ${clip(r.reason, 110)}`);
    if (g.reasons.length > 5) lines.push(`           … ${g.reasons.length - 5} more distinct reasons`);
    const ids = g.messageIds.slice(0, 5).join(' ');
    lines.push(`    ids: ${ids}${g.messageIds.length > 5 ? ` … (+${g.messageIds.length - 5})` : ''}`);
  }
  lines.push('', 'Inspect one: npm run dlq -- show <message id | job id>');
  return lines.join('\n');
}

export function formatEntry(e: DlqEntry): string {
  const lines = [
    `MessageId:      ${e.messageId}`,
    `JobId:          ${e.jobId ?? '-'}`,
    `ErrorClass:     ${e.errorClass} (${e.kind})`,
    `Reason:         ${e.reason}`,
    `FirstFailureAt: ${e.firstFailureAt ?? '-'}`,
    `SentToDlqAt:    ${e.sentAt ?? '-'}`,
    `ReceiveCount:   ${e.receiveCount ?? '-'} (receives from the DLQ, this tool's included)`,
    `Redrives:       ${e.redriveCount}`,
    'Attributes:',
  ];
  const names = Object.keys(e.attributes).sort();
  if (names.length === 0) lines.push('    (none)');
  for (const n of names) {
    const v = e.attributes[n];
    const value = v?.StringValue ?? (v?.BinaryValue !== undefined ? `<${v.BinaryValue.length} bytes>` : '');
    lines.push(`    ${n} [${v?.DataType ?? '?'}] = ${value}`);
  }
  let body = e.body;
  try {
    body = JSON.stringify(JSON.parse(e.body), null, 2);
  } catch {
    // Not JSON (often the very reason it is here): print it as received.
  }
  lines.push('Body:', body);
  return lines.join('\n');
}

/**
 * What a forced redrive of a permanent failure does with this worker: the redriven copy carries the
 * runtime's dead-letter attributes (SourceMessageId), and the job record remembers which message it
 * dead-lettered, so that copy claims the failed job again and runs it (a plain duplicate is still
 * skipped). Fix the cause first, or it fails again and is dead-lettered again.
 */
export const FORCED_PERMANENT_NOTE =
  'Note: a redriven permanent failure runs again: its job record says failed, but a redrive of the message it dead-lettered claims it again (a plain duplicate is still skipped). ' +
  'Fix the cause first (the grant, the input), or it fails and is dead-lettered again.';

export function formatRedrive(r: RedriveResult, sourceUrl: string): string {
  const lines = [`Redrove ${r.redriven.length} message${r.redriven.length === 1 ? '' : 's'} to ${sourceUrl}`];
  if (r.moveTask) lines.push(`  by an SQS message move task: ${r.moveTask.status}, ${r.moveTask.moved} of ${r.moveTask.toMove} moved${r.moveTask.failureReason ? ` (${r.moveTask.failureReason})` : ''}`);
  for (const e of r.redriven.slice(0, 20)) lines.push(`    ${e.messageId}  ${e.jobId ?? '-'}  ${e.errorClass}`);
  if (r.redriven.length > 20) lines.push(`    … (+${r.redriven.length - 20})`);
  if (r.refused.length > 0) {
    lines.push(`Refused ${r.refused.length} (left in the DLQ):`);
    for (const { entry, why } of r.refused.slice(0, 20)) lines.push(`    ${entry.messageId}  ${entry.jobId ?? '-'}  ${why}`);
  }
  if (r.failed.length > 0) {
    lines.push(`Failed ${r.failed.length}:`);
    for (const { entry, why } of r.failed) lines.push(`    ${entry.messageId}  ${why}`);
  }
  if (r.notFound.length > 0) lines.push(`Not in the DLQ: ${r.notFound.join(' ')}`);
  if (r.redriven.some((e) => e.kind === 'permanent')) lines.push(FORCED_PERMANENT_NOTE);
  return lines.join('\n');
}
