/**
 * Every PC/SC constant with pcsc-lite 1.9.9's names and values (error codes, scopes, protocols, share modes,
 * dispositions, card and reader states, sizes, attributes, control codes, part 10 features), from the one source the
 * daemon uses too. Error codes are unsigned (0x80100069); `toSigned32` gives the int32 form Google's connector used.
 */
export * from '../../src/pcsc/constants.js';
