// The function's entry: one handler (and one pool) per execution environment.
import { createOrdersHandler } from './handler.js';

export const handler = createOrdersHandler();
