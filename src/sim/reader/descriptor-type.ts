/**
 * USB descriptor types (USB 2.0 §9.4, Table 9-5; CCID 1.1 §5.1), `DESCRIPTOR_TYPE.X` of `./descriptors.ts`: one
 * constant each, read through the namespace `DESCRIPTOR_TYPE` so the minifier writes the value at each use (issue 14).
 */

export const DEVICE = 1 as const;
export const CONFIGURATION = 2 as const;
export const STRING = 3 as const;
export const INTERFACE = 4 as const;
export const ENDPOINT = 5 as const;
export const CCID = 0x21 as const;
