/** Where response-route (the Lambda environments' preload) is: `.js` in dist, `.ts` when run from src. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const js = fileURLToPath(new URL('./response-route.js', import.meta.url));
export const RESPONSE_ROUTE = existsSync(js) ? js : fileURLToPath(new URL('./response-route.ts', import.meta.url));
