/**
 * The header `produce` puts on a record it could not encode, read back as the consumers read
 * it (test/integration/produce-dead-letters.test.ts runs it through Kafka): the reason and the
 * raw form come back as the file reader held them (text as text, bytes as bytes, none as none);
 * a record without the header is no dead letter; a header that cannot be read still makes one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PRODUCED_DEAD_LETTER_HEADER, producedDeadLetter, producedDeadLetterMessage } from '../../src/io/kafka/produced-dead-letter.js';

test('a produced dead letter reads back with its reason and raw form, text, bytes or none', () => {
  for (const raw of ['{"delay": oops', new Uint8Array([0x7b, 0xff, 0xfe]), undefined]) {
    const m = producedDeadLetterMessage({ reason: 'invalid JSON at line 3: …', raw });
    // As the fetch decoder gives headers (bytes) and as the replay reader does (text).
    for (const header of [Buffer.from(m.headers[PRODUCED_DEAD_LETTER_HEADER]), m.headers[PRODUCED_DEAD_LETTER_HEADER]]) {
      const d = producedDeadLetter({ other: Buffer.from('x'), [PRODUCED_DEAD_LETTER_HEADER]: header }, m.value);
      assert.equal(d?.reason, 'invalid JSON at line 3: …');
      if (raw === undefined) assert.equal(d?.raw, undefined);
      else if (typeof raw === 'string') assert.equal(d?.raw, raw);
      else assert.deepEqual(new Uint8Array(d!.raw as Uint8Array), raw);
    }
  }
});

test('a record without the header is no dead letter; a header given twice counts the last; one that cannot be read still makes a dead letter', () => {
  assert.equal(producedDeadLetter({}, Buffer.from('x')), undefined);
  assert.equal(producedDeadLetter(undefined, Buffer.from('x')), undefined);
  const first = producedDeadLetterMessage({ reason: 'first', raw: 'a' }).headers[PRODUCED_DEAD_LETTER_HEADER];
  const last = producedDeadLetterMessage({ reason: 'last', raw: 'a' }).headers[PRODUCED_DEAD_LETTER_HEADER];
  assert.equal(producedDeadLetter({ [PRODUCED_DEAD_LETTER_HEADER]: [Buffer.from(first), Buffer.from(last)] }, Buffer.from('a'))?.reason, 'last');
  const bad = producedDeadLetter({ [PRODUCED_DEAD_LETTER_HEADER]: 'not json' }, Buffer.from('raw bytes'));
  assert.equal(bad?.reason, `the record's ${PRODUCED_DEAD_LETTER_HEADER} header cannot be read ("not json")`);
  assert.deepEqual(bad?.raw, Buffer.from('raw bytes'));
  assert.match(producedDeadLetter({ [PRODUCED_DEAD_LETTER_HEADER]: '{"reason": 3, "raw": "text"}' }, null)!.reason, /header cannot be read/);
});
