/**
 * IFD handler return codes, with pcsc-lite's exact names and values (`ifdhandler.h`): `IFD.X` of `./errors.ts`.
 *
 * One constant each, read through the namespace `IFD` (`import * as`), rather than the properties of one object: the
 * bundler resolves `IFD.COMMUNICATION_ERROR` to the constant and the minifier writes 612 in its place, where an
 * object's property read kept the name at each of ≈ 300 uses (issue 14: ≈ 4 KB of the worker).
 */
export const SUCCESS = 0 as const;
export const ERROR_TAG = 600 as const;
export const ERROR_SET_FAILURE = 601 as const;
export const ERROR_VALUE_READ_ONLY = 602 as const;
export const ERROR_PTS_FAILURE = 605 as const;
export const ERROR_NOT_SUPPORTED = 606 as const;
export const PROTOCOL_NOT_SUPPORTED = 607 as const;
export const ERROR_POWER_ACTION = 608 as const;
export const ERROR_SWALLOW = 609 as const;
export const ERROR_EJECT = 610 as const;
export const ERROR_CONFISCATE = 611 as const;
export const COMMUNICATION_ERROR = 612 as const;
export const RESPONSE_TIMEOUT = 613 as const;
export const NOT_SUPPORTED = 614 as const;
export const ICC_PRESENT = 615 as const;
export const ICC_NOT_PRESENT = 616 as const;
export const NO_SUCH_DEVICE = 617 as const;
export const ERROR_INSUFFICIENT_BUFFER = 618 as const;
