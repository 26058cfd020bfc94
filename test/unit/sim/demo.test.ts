/** The demo reader's card controls. */
import { describe, expect, it } from 'vitest';
import { createDemoReader } from '../../../src/sim/demo.js';
import { PROFILES } from '../../../src/sim/reader/profiles.js';

describe('createDemoReader', () => {
  it('is a GemPC Twin with the hello-world T=1 card in, labelled simulated, whose card can come and go', () => {
    const demo = createDemoReader();
    expect(demo.device.profile.id).toBe('gempc-twin');
    // The same profile createSimulatedReader('gempc-twin') takes, imported on its own to keep the others out.
    expect(demo.device.profile).toBe(PROFILES['gempc-twin']);
    expect(demo.label).toBe('Demo reader (simulated)');
    expect(demo.simulated).toBe(true);
    expect(demo.cardPresent).toBe(true);
    demo.removeCard();
    demo.removeCard();
    expect(demo.cardPresent).toBe(false);
    demo.insertCard();
    expect(demo.cardPresent).toBe(true);
  });
});
