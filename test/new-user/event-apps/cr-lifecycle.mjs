// A user's own harness for the custom resource's lifecycle (ESM, `@floodgate/local`): the Greeter stack
// deployed twice on the same emulators (shared, as with an external endpoint), first from the assembly
// given first, then from the one given second, then destroyed. Prints the requests its handler got and
// the outputs of each deployment as one JSON line.
import { startEmulators, startLocalStack } from '@floodgate/local';

const [first, second] = process.argv.slice(2);
const emulators = await startEmulators();
const requests = [];
const onLog = (e) => {
  const i = e.line.indexOf('GREETER ');
  if (i >= 0) requests.push(JSON.parse(e.line.slice(i + 'GREETER '.length)));
};
const outputs = [];
try {
  const options = { stack: 'Greeter', emulators, prefix: 'cr', onLog, log: () => undefined, handleSignals: false };
  const one = await startLocalStack({ ...options, assembly: first });
  outputs.push(one.outputs);
  await one.stop(); // the emulators keep its resources, the custom resource too
  const two = await startLocalStack({ ...options, assembly: second });
  outputs.push(two.outputs);
  await two.stop({ destroy: true });
} finally {
  await emulators.stop();
}
console.log(JSON.stringify({ requests, outputs }));
