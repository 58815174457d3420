/**
 * `npm run corpus -- --out DIR [--no-oversized]`: writes the bad-input corpus (chaos/corpus.ts).
 *   DIR/images/<name>          the files (try them: `npm start -- --images DIR/images`)
 *   DIR/messages/<name>.json   raw queue message bodies ({JOB} / {SOURCE} placeholders, see manifest)
 *   DIR/manifest.json          every item with its expected classification
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { corpusImages, corpusMessages } from '../chaos/corpus';

const { values } = parseArgs({
  options: { out: { type: 'string' }, 'no-oversized': { type: 'boolean', default: false } },
});
if (values.out === undefined) {
  process.stderr.write('usage: npm run corpus -- --out DIR [--no-oversized]\n');
  process.exit(2);
}
const out = resolve(values.out);
mkdirSync(join(out, 'images'), { recursive: true });
mkdirSync(join(out, 'messages'), { recursive: true });
const images = await corpusImages({ oversized: !values['no-oversized'] });
for (const i of images) writeFileSync(join(out, 'images', i.name), i.data);
const messages = corpusMessages();
for (const m of messages) writeFileSync(join(out, 'messages', `${m.name}.json`), m.body);
writeFileSync(
  join(out, 'manifest.json'),
  `${JSON.stringify(
    {
      note: 'expect: "ok" renders; a class name means the job must fail with that class and be in the DLQ with its reason. Message bodies: replace {JOB} with a job id and {SOURCE} with an uploaded key.',
      images: images.map((i) => ({ file: `images/${i.name}`, bytes: i.data.length, expect: i.expect })),
      messages: messages.map((m) => ({ file: `messages/${m.name}.json`, expect: m.expect, apiRejects: m.apiRejects })),
    },
    null,
    2,
  )}\n`,
);
const bad = images.filter((i) => i.expect !== 'ok').length;
process.stdout.write(`wrote ${images.length} images (${bad} bad, ${images.length - bad} awkward but valid) and ${messages.length} bad messages to ${out}\n`);
