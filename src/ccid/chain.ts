/**
 * wLevelParameter / bChainParameter values (CCID 1.1 §6.1.4, §6.2.1), `CHAIN.X` of `./constants.ts`: one constant each,
 * read through the namespace `CHAIN` so the minifier writes the value at each use (issue 14).
 */

/** The command/response APDU begins and ends with this message. */
export const BEGIN_AND_END = 0x00 as const;
/** Begins with this message and continues in the next. */
export const BEGIN = 0x01 as const;
/** Continues a previous message and ends with this one. */
export const END = 0x02 as const;
/** Continues a previous message and continues in the next. */
export const CONTINUE = 0x03 as const;
/** Empty abData: the host asks for the next part of the response APDU. */
export const EMPTY_NEXT = 0x10 as const;
