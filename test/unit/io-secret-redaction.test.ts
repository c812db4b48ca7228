/**
 * The redactor (src/io/secret-redaction.ts) and URL user-info handling (src/io/url-credentials.ts):
 * registered secrets and URL passwords masked in text and in stream writes (strings and bytes,
 * a UTF-8 character split across writes left intact), the user shown, the password never.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { redactOutputStreams, redactSecrets, registerSecret } from '../../src/io/secret-redaction.js';
import { shownUrl, splitUrlCredentials } from '../../src/io/url-credentials.js';

test('URL user-info: split off (percent-decoded, "@" in a password kept), shown with the password masked', () => {
  assert.deepEqual(splitUrlCredentials('https://alice:pa%3Ass@reg.example:8081/apis/ccompat/v7'), { url: 'https://reg.example:8081/apis/ccompat/v7', username: 'alice', password: 'pa:ss' });
  assert.deepEqual(splitUrlCredentials('http://bob:p@ss@10.0.0.1:8081/x?y=1'), { url: 'http://10.0.0.1:8081/x?y=1', username: 'bob', password: 'p@ss' });
  assert.deepEqual(splitUrlCredentials('http://carol@h:1'), { url: 'http://h:1', username: 'carol' });
  assert.deepEqual(splitUrlCredentials('http://h:1/path@not-user-info'), { url: 'http://h:1/path@not-user-info' });
  assert.deepEqual(splitUrlCredentials('not a url'), { url: 'not a url' });
  assert.equal(shownUrl('https://reg.example:8081/apis', 'alice'), 'https://alice:***@reg.example:8081/apis');
  assert.equal(shownUrl('https://reg.example:8081/apis', undefined), 'https://reg.example:8081/apis');
});

test('redactSecrets: registered secrets (also percent-encoded) and the password of any URL', () => {
  registerSecret('Redact-Me-0a1b/+');
  registerSecret('abc'); // too short to mask: it would garble ordinary text
  assert.equal(redactSecrets('x Redact-Me-0a1b/+ y Redact-Me-0a1b%2F%2B z abc'), 'x *** y *** z abc');
  assert.equal(
    redactSecrets('cannot reach http://alice:hunter2@127.0.0.1:1/apis (GET http://alice:hunter2@127.0.0.1:1/apis/subjects) and https://bob:p@ss@h/x'),
    'cannot reach http://alice:***@127.0.0.1:1/apis (GET http://alice:***@127.0.0.1:1/apis/subjects) and https://bob:***@h/x',
  );
  assert.equal(redactSecrets('http://host:8081/path and user@example.com'), 'http://host:8081/path and user@example.com');
});

test('redactOutputStreams: string and byte writes are masked; bytes without a secret pass through unchanged', async () => {
  registerSecret('Stream-Secret-éü');
  const written: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      written.push(Buffer.from(chunk));
      cb();
    },
  });
  redactOutputStreams([sink]);
  redactOutputStreams([sink]); // idempotent: wrapping twice changes nothing
  sink.write('a Stream-Secret-éü b\n');
  sink.write(Buffer.from('c Stream-Secret-éü d\n', 'utf8'));
  const euro = Buffer.from('€', 'utf8');
  sink.write(euro.subarray(0, 1));
  sink.write(euro.subarray(1));
  sink.write('YWJj', 'base64');
  await new Promise<void>((resolve) => sink.end(resolve));
  assert.equal(Buffer.concat(written).toString('utf8'), 'a *** b\nc *** d\n€abc');
});
