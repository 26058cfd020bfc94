import { describe, expect, it } from 'vitest';
import { CardApplications, MF_FCI } from '../../../../src/sim/card/applets.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.split(' ').map((b) => parseInt(b, 16)));
const SELECT_HELLO = hex('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01');
const SELECT_PIN = hex('00 A4 04 00 06 D2 76 00 01 24 01');

/** The response as one byte string: data then SW1 SW2. */
function run(apps: CardApplications, apdu: Uint8Array): number[] {
  const r = apps.processApdu(apdu);
  return [...r.data, r.sw >> 8, r.sw & 0xff];
}
const sw = (apps: CardApplications, apdu: Uint8Array): number => apps.processApdu(apdu).sw;

describe('hello-world applet', () => {
  it('SELECT by AID answers 90 00, with or without Le', () => {
    const apps = new CardApplications();
    expect(run(apps, SELECT_HELLO)).toEqual([0x90, 0x00]);
    expect(run(apps, hex('00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01 00'))).toEqual([0x90, 0x00]);
    expect(apps.selected).toBe('hello');
  });

  it('00 00 00 00 answers "Hello world!" 90 00 once selected', () => {
    const apps = new CardApplications();
    run(apps, SELECT_HELLO);
    expect(run(apps, hex('00 00 00 00'))).toEqual([...new TextEncoder().encode('Hello world!'), 0x90, 0x00]);
  });

  it('00 00 00 00 answers 6D 00 when the applet is not selected', () => {
    const apps = new CardApplications();
    expect(run(apps, hex('00 00 00 00'))).toEqual([0x6d, 0x00]);
  });

  it('an unknown AID is not found (6A 82) and the selection stays', () => {
    const apps = new CardApplications();
    run(apps, SELECT_HELLO);
    expect(sw(apps, hex('00 A4 04 00 05 A0 00 00 00 99'))).toBe(0x6a82);
    expect(apps.selected).toBe('hello');
  });

  it('a right-truncated AID (the RID) selects the application it starts', () => {
    const apps = new CardApplications();
    expect(sw(apps, hex('00 A4 04 00 05 A0 00 00 00 62'))).toBe(0x9000);
    expect(apps.selected).toBe('hello');
  });
});

describe('GET CHALLENGE', () => {
  it('answers Le bytes then 90 00, Le 00 meaning 256, without any selection', () => {
    const apps = new CardApplications({ seed: 7 });
    const r8 = apps.processApdu(hex('00 84 00 00 08'));
    expect(r8.sw).toBe(0x9000);
    expect(r8.data.length).toBe(8);
    expect(apps.processApdu(hex('00 84 00 00 00')).data.length).toBe(256);
    expect(apps.processApdu(hex('00 84 00 00 00 10 00')).data.length).toBe(4096);
  });

  it('replays the same challenges from the same seed and differs with another seed', () => {
    const a = new CardApplications({ seed: 42 });
    const b = new CardApplications({ seed: 42 });
    const c = new CardApplications({ seed: 43 });
    const first = a.processApdu(hex('00 84 00 00 10')).data;
    expect(b.processApdu(hex('00 84 00 00 10')).data).toEqual(first);
    expect(c.processApdu(hex('00 84 00 00 10')).data).not.toEqual(first);
    expect(a.processApdu(hex('00 84 00 00 10')).data).not.toEqual(first);
  });

  it('without Le it is a wrong length (67 00)', () => {
    expect(sw(new CardApplications(), hex('00 84 00 00'))).toBe(0x6700);
  });
});

describe('ECHO', () => {
  it('answers its data in a short APDU, Le or not', () => {
    const apps = new CardApplications();
    expect(run(apps, hex('80 EE 00 00 03 01 02 03'))).toEqual([1, 2, 3, 0x90, 0x00]);
    expect(run(apps, hex('80 EE 00 00 03 01 02 03 00'))).toEqual([1, 2, 3, 0x90, 0x00]);
  });

  it('answers 65535 bytes of data in an extended APDU', () => {
    const apdu = new Uint8Array(7 + 65535 + 2);
    apdu.set([0x80, 0xee, 0, 0, 0, 0xff, 0xff]);
    for (let i = 0; i < 65535; i++) apdu[7 + i] = i & 0xff;
    const r = new CardApplications().processApdu(apdu);
    expect(r.sw).toBe(0x9000);
    expect(r.data.length).toBe(65535);
    expect(r.data[65534]).toBe(65534 & 0xff);
  });

  it('cuts the answer to Ne', () => {
    expect(run(new CardApplications(), hex('80 EE 00 00 03 01 02 03 02'))).toEqual([1, 2, 0x90, 0x00]);
  });
});

describe('SELECT MF', () => {
  it('answers 90 00 without Le, and with P2 = 0C even with Le', () => {
    const apps = new CardApplications();
    expect(run(apps, hex('00 A4 00 00 02 3F 00'))).toEqual([0x90, 0x00]);
    expect(run(apps, hex('00 A4 00 0C 02 3F 00'))).toEqual([0x90, 0x00]);
    expect(run(apps, hex('00 A4 00 0C 02 3F 00 00'))).toEqual([0x90, 0x00]);
    expect(apps.selected).toBe('mf');
  });

  it('answers the FCI when P2 = 00 and Le is present', () => {
    expect(run(new CardApplications(), hex('00 A4 00 00 02 3F 00 00'))).toEqual([...MF_FCI, 0x90, 0x00]);
  });

  it('another file identifier is not found', () => {
    expect(sw(new CardApplications(), hex('00 A4 00 00 02 2F 00'))).toBe(0x6a82);
  });
});

describe('PIN applet', () => {
  const verify = (pin: string): Uint8Array =>
    Uint8Array.from([0x00, 0x20, 0x00, 0x80, pin.length, ...new TextEncoder().encode(pin)]);
  const QUERY = hex('00 20 00 80');

  it('accepts the default PIN "1234"', () => {
    const apps = new CardApplications();
    expect(sw(apps, SELECT_PIN)).toBe(0x9000);
    expect(sw(apps, verify('1234'))).toBe(0x9000);
    expect(sw(apps, QUERY)).toBe(0x9000);
  });

  it('counts wrong PINs down with 63 Cx, then blocks with 69 83', () => {
    const apps = new CardApplications();
    sw(apps, SELECT_PIN);
    expect(sw(apps, QUERY)).toBe(0x63c3);
    expect(sw(apps, verify('0000'))).toBe(0x63c2);
    expect(sw(apps, QUERY)).toBe(0x63c2);
    expect(sw(apps, verify('0000'))).toBe(0x63c1);
    expect(sw(apps, verify('0000'))).toBe(0x63c0);
    expect(sw(apps, verify('1234'))).toBe(0x6983);
    expect(sw(apps, QUERY)).toBe(0x6983);
    expect(apps.pinTriesLeft).toBe(0);
  });

  it('a right PIN restores the tries', () => {
    const apps = new CardApplications({ pin: '987654', pinTries: 5 });
    sw(apps, SELECT_PIN);
    expect(sw(apps, verify('1234'))).toBe(0x63c4);
    expect(sw(apps, verify('987654'))).toBe(0x9000);
    expect(apps.pinTriesLeft).toBe(5);
  });

  it('verification is forgotten at reset, tries are not', () => {
    const apps = new CardApplications();
    sw(apps, SELECT_PIN);
    sw(apps, verify('1111'));
    sw(apps, verify('1234'));
    apps.reset();
    expect(sw(apps, QUERY)).toBe(0x6d00); // nothing selected
    sw(apps, SELECT_PIN);
    expect(sw(apps, QUERY)).toBe(0x63c3);
    sw(apps, verify('1111'));
    apps.reset();
    sw(apps, SELECT_PIN);
    expect(sw(apps, QUERY)).toBe(0x63c2);
  });

  it('is selectable by a configured AID, and VERIFY with another reference is 6A 86', () => {
    const apps = new CardApplications({ pinAid: hex('F0 01 02 03 04 05') });
    expect(sw(apps, SELECT_PIN)).toBe(0x6a82);
    expect(sw(apps, hex('00 A4 04 00 06 F0 01 02 03 04 05'))).toBe(0x9000);
    expect(sw(apps, hex('00 20 00 81 04 31 32 33 34'))).toBe(0x6a86);
  });

  it('rejects impossible PIN settings', () => {
    expect(() => new CardApplications({ pinTries: 16 })).toThrow(RangeError);
    expect(() => new CardApplications({ pin: '' })).toThrow(RangeError);
  });
});

describe('everything else', () => {
  it('an unknown instruction is 6D 00 and an unknown class 6E 00', () => {
    const apps = new CardApplications();
    expect(run(apps, hex('00 B0 00 00 10'))).toEqual([0x6d, 0x00]);
    expect(run(apps, hex('80 00 00 00'))).toEqual([0x6d, 0x00]);
    expect(run(apps, hex('A0 A4 00 00 02 3F 00'))).toEqual([0x6e, 0x00]);
  });

  it('bytes that are no APDU are 67 00', () => {
    expect(run(new CardApplications(), hex('00 A4 04'))).toEqual([0x67, 0x00]);
    expect(run(new CardApplications(), hex('80 EE 00 00 05 01'))).toEqual([0x67, 0x00]);
  });
});

describe('CHANGE REFERENCE DATA (ISO/IEC 7816-4 §11.5.7)', () => {
  const ascii = (s: string) => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, '0')).join(' ');

  it('with the current PIN first, sets the new one and restores the tries', () => {
    const apps = new CardApplications();
    run(apps, SELECT_PIN);
    expect(sw(apps, hex(`00 20 00 80 04 ${ascii('0000')}`))).toBe(0x63c2);
    expect(sw(apps, hex(`00 24 00 80 08 ${ascii('1234')} ${ascii('9876')}`))).toBe(0x9000);
    expect(apps.pinTriesLeft).toBe(3);
    expect(sw(apps, hex(`00 20 00 80 04 ${ascii('1234')}`))).toBe(0x63c2);
    expect(sw(apps, hex(`00 20 00 80 04 ${ascii('9876')}`))).toBe(0x9000);
  });

  it('a wrong current PIN counts as a failed verification and keeps the PIN', () => {
    const apps = new CardApplications();
    run(apps, SELECT_PIN);
    expect(sw(apps, hex(`00 24 00 80 08 ${ascii('4321')} ${ascii('9876')}`))).toBe(0x63c2);
    expect(sw(apps, hex(`00 20 00 80 04 ${ascii('1234')}`))).toBe(0x9000);
  });

  it('needs the PIN applet selected, P1-P2 00 80 and a new PIN', () => {
    const apps = new CardApplications();
    expect(sw(apps, hex(`00 24 00 80 08 ${ascii('1234')} ${ascii('9876')}`))).toBe(0x6d00);
    run(apps, SELECT_PIN);
    expect(sw(apps, hex(`00 24 01 80 08 ${ascii('1234')} ${ascii('9876')}`))).toBe(0x6a86);
    expect(sw(apps, hex(`00 24 00 80 04 ${ascii('1234')}`))).toBe(0x6700);
  });
});
