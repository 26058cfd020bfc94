import { describe, expect, it } from 'vitest';
import { t1Floor } from '../../../bench/t1-floor.js';

describe('t1Floor', () => {
  it('replays a recorded chained ECHO into the simulator, the first replays checked byte for byte, then at will', async () => {
    // 600 bytes: three I-blocks each way at IFSD 254, so the chaining and its R-blocks are in the recording.
    const floor = await t1Floor(600);
    try {
      expect(floor.name).toMatch(/600-byte ECHO's T=1 blocks .* \(5 CCID messages each way, no driver\)/);
      for (let i = 0; i < 5; i++) await floor.op();
    } finally {
      await floor.close();
    }
  });
});
