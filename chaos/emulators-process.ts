/**
 * The emulators in their own process, so that a run measuring its own memory (the burst run samples the
 * runner's RSS) does not count fauxqs' in-memory queues and objects as the runner's. Prints one JSON line
 * with the endpoints, then lives until its stdin closes (the parent exiting closes it, however it exits).
 */
import { startEmulators } from '@floodgate/local';

const emulators = await startEmulators();
process.stdout.write(`${JSON.stringify({ endpoint: emulators.endpoint, sqs: emulators.sqs, s3: emulators.s3, dynamodb: emulators.dynamodb, region: emulators.region, backends: emulators.backends, pid: process.pid })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void emulators.stop().finally(() => process.exit(0)));
process.stdin.on('close', () => void emulators.stop().finally(() => process.exit(0)));
