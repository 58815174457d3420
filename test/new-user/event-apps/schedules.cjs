// A jest-style (CommonJS) harness: `@floodgate/local/testing` runs the Schedules stack, fires the
// scheduled rule and the Scheduler schedule now, and reads what reached their queues. Prints one JSON line.
const { startLocalStack } = require('@floodgate/local/testing');
const { ReceiveMessageCommand } = require('@aws-sdk/client-sqs');

async function receive(stack, queueUrl) {
  const r = await stack.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
  return (r.Messages ?? []).map((m) => JSON.parse(m.Body));
}

(async () => {
  const stack = await startLocalStack({ assembly: process.argv[2], stack: 'Schedules' });
  try {
    const rule = await stack.schedules.fire('ea-nightly');
    const schedule = await stack.schedules.fire('ea-report');
    const unknown = await stack.schedules.fire('ea-no-such-schedule').then(() => 'resolved', (err) => err.message);
    const nightly = await receive(stack, stack.outputs.NightlyQueueUrl);
    const reports = await receive(stack, stack.outputs.ReportQueueUrl);
    console.log(JSON.stringify({ rule, schedule, unknown, nightly, reports }));
  } finally {
    await stack.stop();
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
