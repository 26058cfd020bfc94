/**
 * The connector's extension id, derived from the fixed `key` of manifest.json the way Chrome derives it (the first 32
 * hex digits of sha256 of the DER public key, 0-f mapped to a-p), by the same function scripts/chromium.mjs uses: one
 * key, one derivation, no copy of the id to drift.
 */
import manifest from '../../../manifest.json';
import { extensionIdFromKey } from '../../../scripts/extension-id.mjs';

export { extensionIdFromKey };

/** The connector's id: what the host manifest's allowed_origins names and what the host accepts as its caller. */
export const CONNECTOR_ID: string = extensionIdFromKey(manifest.key);

/** `chrome-extension://ID/`, as Chrome writes origins in host manifests and passes the caller to the host. */
export function extensionOrigin(id: string): string {
  return `chrome-extension://${id}/`;
}

/** Chrome's extension ids: 32 letters a to p. */
export function isExtensionId(s: string): boolean {
  return /^[a-p]{32}$/.test(s);
}
