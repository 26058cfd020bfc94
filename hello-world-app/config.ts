/**
 * The connector extension's id: fixed by the public key in the connector's manifest.json ("key"), i.e. the first
 * 32 hex digits of sha256(DER public key) written with the letters a–p. A page may name another connector with
 * `?connector=<id>` (a different build of it, say).
 */
export const CONNECTOR_ID = 'ngfkfjneanfndnjljhacboedojhajjdi';

export function connectorIdFrom(search: string): string {
  const asked = new URLSearchParams(search).get('connector');
  return asked && /^[a-p]{32}$/.test(asked) ? asked : CONNECTOR_ID;
}
