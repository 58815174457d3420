/**
 * `npm run dlq -- list | show <id> | redrive (--all | <id>...) [--force]`
 *
 * Options: --outputs FILE (cdk --outputs-file format; default .floodgate/local/outputs.json, else
 * cdk-outputs.json), --stack NAME, --dlq-url URL, --queue-url URL, --max N, --json.
 * Exit codes: 0 ok; 1 error; 2 usage; 3 redrive refused or failed for some messages.
 */
import { parseArgs } from 'node:util';
import { DlqClient } from './dlq-client';
import { groupByClass } from './entries';
import { formatEntry, formatList, formatRedrive } from './format';
import { resolveTarget, sqsClientFor } from './target';

const USAGE = `usage: npm run dlq -- <command> [options]
  list                      messages in the DLQ grouped by error class (non-destructive)
  show <message id|job id>  one message: attributes and body
  redrive --all | <id>...   move messages back to the job queue (permanent failures need --force);
                            the whole DLQ moves by an SQS message move task (StartMessageMoveTask)
options: --outputs FILE  --stack NAME  --dlq-url URL  --queue-url URL  --max N  --force  --json`;

export async function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        outputs: { type: 'string' },
        stack: { type: 'string' },
        'dlq-url': { type: 'string' },
        'queue-url': { type: 'string' },
        max: { type: 'string' },
        all: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...ids] = positionals;
  if (values.help || command === undefined) {
    out(USAGE);
    return values.help ? 0 : 2;
  }
  const max = values.max === undefined ? undefined : Number(values.max);
  if (max !== undefined && !(Number.isInteger(max) && max > 0)) {
    process.stderr.write(`--max must be a positive integer\n`);
    return 2;
  }
  const target = resolveTarget({
    outputsFile: values.outputs,
    stackName: values.stack,
    deadLetterQueueUrl: values['dlq-url'],
    sourceQueueUrl: values['queue-url'],
  });
  const sqs = sqsClientFor(target);
  const dlq = new DlqClient({ sqs, deadLetterQueueUrl: target.deadLetterQueueUrl, sourceQueueUrl: target.sourceQueueUrl, maxMessages: max });
  try {
    switch (command) {
      case 'list': {
        const entries = await dlq.list();
        const groups = groupByClass(entries);
        if (values.json) out(JSON.stringify({ dlq: target.deadLetterQueueUrl, total: entries.length, groups }));
        else out(formatList(groups, entries.length, target.deadLetterQueueUrl));
        return 0;
      }
      case 'show': {
        if (ids.length !== 1) {
          process.stderr.write(`show takes one message id or job id\n${USAGE}\n`);
          return 2;
        }
        const found = await dlq.show(ids[0]!);
        if (found.length === 0) {
          process.stderr.write(`${ids[0]} is not in the DLQ ${target.deadLetterQueueUrl}\n`);
          return 1;
        }
        if (values.json) out(JSON.stringify(found.length === 1 ? found[0] : found));
        else out(found.map(formatEntry).join('\n\n'));
        return 0;
      }
      case 'redrive': {
        if (values.all === ids.length > 0) {
          process.stderr.write(`redrive takes --all or a list of message ids / job ids (not both)\n${USAGE}\n`);
          return 2;
        }
        const result = await dlq.redrive(values.all ? { all: true } : { ids }, values.force);
        if (values.json) {
          out(
            JSON.stringify({
              redriven: result.redriven.map((e) => e.messageId),
              refused: result.refused.map((r) => ({ messageId: r.entry.messageId, why: r.why })),
              failed: result.failed.map((r) => ({ messageId: r.entry.messageId, why: r.why })),
              notFound: result.notFound,
              ...(result.moveTask ? { moveTask: result.moveTask } : {}),
            }),
          );
        } else out(formatRedrive(result, dlq.sourceQueueUrl ?? ''));
        return result.refused.length + result.failed.length + result.notFound.length > 0 ? 3 : 0;
      }
      default:
        process.stderr.write(`unknown command ${command}\n${USAGE}\n`);
        return 2;
    }
  } finally {
    sqs.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('tools/dlq/cli.ts')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`dlq: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
