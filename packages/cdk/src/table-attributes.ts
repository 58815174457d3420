/** Key and TTL attribute names of the tables; TTL attributes hold epoch SECONDS. Defined in @floodgate/contract. */
export { TABLE_ATTRIBUTES } from '@floodgate/contract';
