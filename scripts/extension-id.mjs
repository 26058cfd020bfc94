/**
 * Chrome's extension id from a manifest's `key`: the first 32 hex digits of sha256(DER public key), each digit 0-f
 * written as a letter a-p. Shared by scripts/chromium.mjs (the tests' and `npm start`'s CONNECTOR_ID) and the host
 * (src/host/native/connector-id.ts: the host manifest's allowed_origins), so the id is derived in one place.
 */
import { createHash } from 'node:crypto';

/** @param {string} key the manifest's `key` (base64 DER SubjectPublicKeyInfo) */
export function extensionIdFromKey(key) {
  const hex = createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 32);
  return [...hex].map((d) => String.fromCharCode(0x61 + parseInt(d, 16))).join('');
}
