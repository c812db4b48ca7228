// X.509 v3 certificates from Node's crypto alone (it can sign but has no API to issue a
// certificate), so the secured stack needs neither openssl nor a keytool round trip per file.
// Only what a local CA, a TLS server and a TLS client need: EC P-256 keys, ECDSA-SHA256.
import crypto from 'node:crypto';

// ---------------------------------------------------------------- DER (X.690)

function length(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag, content) => Buffer.concat([Buffer.from([tag]), length(content.length), content]);
const sequence = (...items) => tlv(0x30, Buffer.concat(items));
const set = (...items) => tlv(0x31, Buffer.concat(items));
const explicit = (n, content) => tlv(0xa0 | n, content);
const octets = (buf) => tlv(0x04, buf);
const boolean = (b) => tlv(0x01, Buffer.from([b ? 0xff : 0]));

/** A non-negative INTEGER from big-endian bytes: minimal, with a 0 byte when the top bit is set. */
function integer(bytes) {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const b = bytes.subarray(i);
  return tlv(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted) {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) groups.unshift(0x80 | (v & 0x7f));
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

/** BIT STRING of flags numbered from the most significant bit (DER drops trailing zero bits). */
function namedBits(bits) {
  const last = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(last / 8) + 1);
  for (const n of bits) bytes[Math.floor(n / 8)] |= 0x80 >> (n % 8);
  return tlv(0x03, Buffer.concat([Buffer.from([7 - (last % 8)]), bytes]));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5), to the second. */
function time(date) {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

const name = (cn) => sequence(set(sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));

// ---------------------------------------------------------------- certificate

const ECDSA_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));
const EKU = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2' };
const extension = (id, critical, value) => sequence(oid(id), ...(critical ? [boolean(true)] : []), octets(value));

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
function keyId(spkiDer) {
  const spki = crypto.createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  const raw = spki.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(raw.x, 'base64url'), Buffer.from(raw.y, 'base64url')]);
  return crypto.createHash('sha1').update(point).digest();
}

function subjectAltName(hosts) {
  const names = hosts.map((h) => {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(h)) return tlv(0x87, Buffer.from(h.split('.').map(Number)));
    return tlv(0x82, Buffer.from(h, 'ascii'));
  });
  return sequence(...names);
}

/** A new EC P-256 key pair. */
export const newKeyPair = () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });

/**
 * Issue a certificate. A self-signed CA is its own issuer (its subject and key pair).
 * @param {{ subject: string, publicKey: crypto.KeyObject, issuer: { name: string, privateKey: crypto.KeyObject, publicKey: crypto.KeyObject },
 *           ca?: boolean, hosts?: string[], usage?: Array<'serverAuth' | 'clientAuth'>, days: number, now?: Date }} o
 * @returns {string} PEM
 */
export function issueCertificate(o) {
  const now = o.now ?? new Date();
  const spki = o.publicKey.export({ format: 'der', type: 'spki' });
  const signer = o.issuer;
  const issuerSpki = signer.publicKey.export({ format: 'der', type: 'spki' });
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f;
  const extensions = [
    extension('2.5.29.19', true, o.ca ? sequence(boolean(true)) : sequence()),
    // CA: keyCertSign(5), cRLSign(6); leaf: digitalSignature(0), as ECDHE-ECDSA needs no more
    extension('2.5.29.15', true, o.ca ? namedBits([5, 6]) : namedBits([0])),
    extension('2.5.29.14', false, octets(keyId(spki))),
    extension('2.5.29.35', false, sequence(tlv(0x80, keyId(issuerSpki)))),
  ];
  if (o.usage?.length) extensions.push(extension('2.5.29.37', false, sequence(...o.usage.map((u) => oid(EKU[u])))));
  if (o.hosts?.length) extensions.push(extension('2.5.29.17', false, subjectAltName(o.hosts)));
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_SHA256,
    name(signer.name),
    sequence(time(new Date(now.getTime() - 3_600_000)), time(new Date(now.getTime() + o.days * 86_400_000))),
    name(o.subject),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = crypto.sign('sha256', tbs, signer.privateKey); // DER ECDSA-Sig-Value, as X.509 wants
  const der = sequence(tbs, ECDSA_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
}
