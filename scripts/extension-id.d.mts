/** Chrome's extension id (32 letters a-p) from a manifest's base64 `key`. */
export function extensionIdFromKey(key: string): string;
