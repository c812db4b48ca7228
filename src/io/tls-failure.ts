/**
 * TLS handshake failures that no retry can fix (an untrusted or expired certificate, a host
 * name the certificate does not cover, a listener that does not speak TLS), by Node's error
 * code, with the setting that fixes each. Shared by the Kafka and the registry clients.
 */

type TlsKeyPrefix = 'ssl.' | 'schema.registry.ssl.';

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

/** How to fix the TLS failure with this error code, or undefined when the code is not one. */
export function tlsFailureHint(code: unknown, prefix: TlsKeyPrefix): string | undefined {
  if (typeof code !== 'string') return undefined;
  if (UNTRUSTED.has(code)) return `the server's certificate is not signed by a trusted CA: set ${prefix}ca.location to the PEM file of the CA that signed it`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return prefix === 'ssl.'
      ? "the server's certificate does not name this host: connect by a name it lists, or set ssl.endpoint.identification.algorithm=none"
      : "the registry's certificate does not name this host: use a URL with a name it lists";
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return "the server's certificate is outside its validity period: renew it";
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return prefix === 'ssl.' ? 'the listener does not speak TLS: check security.protocol (PLAINTEXT or SASL_PLAINTEXT) and the port' : 'the registry does not speak TLS at this port: use http://';
  }
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN)$/.test(code)) {
    return `the server refused the client certificate: check ${prefix}certificate.location and ${prefix}key.location (a certificate its CA signed)`;
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return `check the ${prefix}* settings`;
  return undefined;
}

/**
 * OpenSSL's own error text (`80AC…:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad
 * certificate:../deps/openssl/…c:1601:SSL alert number 42`, with a line break) as its reason
 * only, on one line.
 */
export function tlsErrorText(message: string): string {
  const oneLine = message.replace(/\s*\n\s*/g, ' ').trim();
  return oneLine.replace(/[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):\S+\.c:\d+:.*$/, '$1');
}
