/** Helpers for tests that talk to the emulators started by the global setup (through its one endpoint). */
import { inject } from 'vitest';
import { localClients as clientsFor, type LocalEndpoints } from '@floodgate/local';

export function localEndpoints(): LocalEndpoints {
  return inject('endpoints');
}

export function localClients(endpoints: LocalEndpoints = localEndpoints()) {
  return clientsFor(endpoints);
}
