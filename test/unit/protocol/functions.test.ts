import { describe, expect, it } from 'vitest';
import {
  FUNCTIONS,
  FUNCTION_NAMES,
  TABLE_MATCHES_API,
  invoke,
  isFunctionName,
  specOf,
} from '../../../src/protocol/functions.js';
import type { PcscApi } from '../../../src/pcsc/api.js';

describe('the function table', () => {
  it('labels arguments as error messages have always named them', () => {
    // These labels appear in ProtocolError texts ("args[2] (sendBuffer(hex)): …"), which clients may match on.
    expect(FUNCTIONS).toEqual({
      SCardEstablishContext: ['dwScope'],
      SCardReleaseContext: ['hContext'],
      SCardIsValidContext: ['hContext'],
      SCardListReaders: ['hContext', 'groups|null', 'bufferLength|null'],
      SCardListReaderGroups: ['hContext', 'bufferLength|null'],
      SCardConnect: ['hContext', 'szReader', 'dwShareMode', 'dwPreferredProtocols'],
      SCardReconnect: ['hCard', 'dwShareMode', 'dwPreferredProtocols', 'dwInitialization'],
      SCardDisconnect: ['hCard', 'dwDisposition'],
      SCardBeginTransaction: ['hCard'],
      SCardEndTransaction: ['hCard', 'dwDisposition'],
      SCardStatus: ['hCard'],
      SCardGetStatusChange: ['hContext', 'dwTimeout', 'readerStates'],
      SCardControl: ['hCard', 'dwControlCode', 'input(hex)', 'recvLength|null'],
      SCardGetAttrib: ['hCard', 'dwAttrId', 'bufferLength|null'],
      SCardSetAttrib: ['hCard', 'dwAttrId', 'attr(hex)'],
      SCardTransmit: ['hCard', 'ioSendPci', 'sendBuffer(hex)', 'recvLength|null'],
      SCardCancel: ['hContext'],
    });
    expect(TABLE_MATCHES_API).toBe(true);
    expect(isFunctionName('SCardTransmit')).toBe(true);
    expect(isFunctionName('toString')).toBe(false);
  });

  it('marks every hContext and hCard as a handle of its kind, and nothing else', () => {
    for (const fn of FUNCTION_NAMES) {
      const { args, result } = specOf(fn);
      for (const a of args) {
        const expected = a.name === 'hContext' ? 'context' : a.name === 'hCard' ? 'card' : undefined;
        expect(a.handle, `${fn} ${a.name}`).toBe(expected);
      }
      for (const [k, v] of Object.entries(result.fields ?? {})) {
        expect(v.handle, `${fn} result ${k}`).toBe(k === 'hContext' ? 'context' : k === 'hCard' ? 'card' : undefined);
      }
    }
  });

  it('says which bytes are APDUs, responses, card output or possible PINs', () => {
    const carried = FUNCTION_NAMES.flatMap((fn) => {
      const { args, result } = specOf(fn);
      return [
        ...args.filter((a) => a.kind === 'hex').map((a) => `${fn} ${a.name}: ${a.carries}`),
        ...Object.entries(result.fields ?? {})
          .filter(([, v]) => v.kind === 'hex')
          .map(([k, v]) => `${fn} → ${k}: ${v.carries}`),
      ];
    });
    expect(carried).toEqual([
      'SCardStatus → atr: card',
      'SCardControl input: secret',
      'SCardControl → output: card',
      'SCardGetAttrib → attr: card',
      'SCardSetAttrib attr: secret',
      'SCardTransmit sendBuffer: apdu',
      'SCardTransmit → recvBuffer: response',
    ]);
  });

  it('dispatches a call to the API method of its name, arguments as given', async () => {
    const seen: unknown[] = [];
    const api = {
      SCardStatus: (...args: unknown[]) => (seen.push(args), Promise.resolve('status')),
    } as unknown as PcscApi;
    await expect(invoke(api, 'SCardStatus', [7])).resolves.toBe('status');
    expect(seen).toEqual([[7]]);
  });
});
