// A process that starts PostgreSQL and waits to be killed (used by the no-orphan tests).
import { startPostgres } from '@floodgate/postgres';

const pg = await startPostgres({ maxConnections: 10 });
process.stdout.write(`pgPid=${pg.pid} dataDir=${pg.dataDir}\n`);
setInterval(() => undefined, 1 << 30);
