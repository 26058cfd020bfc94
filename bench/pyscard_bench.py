"""pyscard (Debian's python3-pyscard over libpcsclite) timing SCardTransmit round trips, the Python twin of the native
anchor's client_bench.c: SELECT, then N times either an 8-byte GET CHALLENGE or an extended ECHO of ECHO_BYTES.
Prints "reader=... apdus=N bytes=B per_apdu_us=X" like client_bench.c. Usage: pyscard_bench.py [N] [ECHO_BYTES]"""
import sys
import time

from smartcard.scard import (
    SCARD_LEAVE_CARD, SCARD_PROTOCOL_T1, SCARD_SCOPE_SYSTEM, SCARD_SHARE_SHARED, SCardConnect, SCardDisconnect,
    SCardEstablishContext, SCardListReaders, SCardReleaseContext, SCardTransmit,
)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    echo = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    rv, ctx = SCardEstablishContext(SCARD_SCOPE_SYSTEM)
    if rv:
        return 1
    rv, names = SCardListReaders(ctx, [])
    if rv or not names:
        return 2
    reader = next((r for r in names if "Memory" in r), names[0])
    rv, card, proto = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1)
    if rv:
        return 3
    SCardTransmit(card, proto, [0x00, 0xA4, 0x04, 0x00, 0x0A, 0xA0, 0x00, 0x00, 0x00, 0x62, 0x03, 0x01, 0x0C, 0x06, 0x01])
    if echo:
        apdu = [0x80, 0xEE, 0x00, 0x00, 0x00, echo >> 8, echo & 0xFF] + [0x5A] * echo
    else:
        apdu = [0x00, 0x84, 0x00, 0x00, 0x08]
    t0 = time.perf_counter()
    for _ in range(n):
        rv, resp = SCardTransmit(card, proto, apdu)
        if rv:
            return 4
    dt = time.perf_counter() - t0
    print(f"reader={reader} apdus={n} bytes={len(apdu)} per_apdu_us={dt / n * 1e6:.1f}", flush=True)
    SCardDisconnect(card, SCARD_LEAVE_CARD)
    SCardReleaseContext(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
