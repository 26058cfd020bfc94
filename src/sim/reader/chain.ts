/**
 * wLevelParameter / bChainParameter values (CCID 1.1 §6.1.4, §6.2.1), `CHAIN.X` of `./ccid-constants.ts`: one constant
 * each, read through the namespace `CHAIN` so the minifier writes the value at each use (issue 14).
 */

export const BEGIN_AND_END = 0x00 as const;
export const BEGIN = 0x01 as const;
export const END = 0x02 as const;
export const CONTINUE = 0x03 as const;
export const EMPTY_CONTINUE = 0x10 as const;
