// A process that starts the emulators and waits to be killed (used by the no-orphan tests).
import { startEmulators } from '@floodgate/local';

const emulators = await startEmulators();
process.stdout.write(`ddbPid=${emulators.dynamodbPid}\n`);
setInterval(() => undefined, 1 << 30);
