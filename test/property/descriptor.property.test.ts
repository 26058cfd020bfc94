import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeCcidClassDescriptor,
  parseCcidClassDescriptor,
  parseConfigurationDescriptor,
  scanCcidInterfaces,
} from '../../src/ccid/descriptor.js';
import { DriverError } from '../../src/ifd/errors.js';
import { GEMPC_TWIN, O2MICRO_OZ776 } from '../unit/ccid/reader-descriptors.js';

/** Runs fn; passes if it returns, or throws a DriverError; any other throw fails the property. */
function returnsOrDriverError(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    return e instanceof DriverError;
  }
}

const NUM_RUNS = 300;

describe('descriptor decoders on arbitrary bytes', () => {
  it('parseConfigurationDescriptor only returns or throws DriverError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) =>
        returnsOrDriverError(() => scanCcidInterfaces(parseConfigurationDescriptor(bytes))),
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('parseConfigurationDescriptor on a valid header with random descriptors only returns or throws DriverError', () => {
    // Random bodies behind a correct 9-byte header reach the descriptor walk instead of failing on the header.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 8 }), (body, slack) => {
        const total = 9 + body.length;
        const bytes = new Uint8Array(total + slack);
        bytes.set([9, 2, total & 0xff, total >> 8, 1, 1, 0, 0x80, 50]);
        bytes.set(body, 9);
        return returnsOrDriverError(() => scanCcidInterfaces(parseConfigurationDescriptor(bytes)));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('corrupting one byte of a real configuration only returns or throws DriverError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(GEMPC_TWIN.configuration, O2MICRO_OZ776.configuration),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (config, at, value) => {
          const bytes = config.slice();
          bytes[at % bytes.length] = value;
          return returnsOrDriverError(() => scanCcidInterfaces(parseConfigurationDescriptor(bytes)));
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('parseCcidClassDescriptor only returns or throws DriverError, and round-trips 54 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        let parsed;
        try {
          parsed = parseCcidClassDescriptor(bytes);
        } catch (e) {
          return e instanceof DriverError && bytes.length < 54;
        }
        expect(encodeCcidClassDescriptor(parsed)).toEqual(bytes.subarray(0, 54));
        return true;
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
