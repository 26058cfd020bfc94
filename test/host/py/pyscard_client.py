"""pyscard (Debian's python3-pyscard, over libpcsclite) against the host's socket: list readers, connect, transmit,
then wait in SCardGetStatusChange and be cancelled by SCardCancel from another thread. The card is the hello-world
card, or with argument "vicc" vsmartcard's iso7816 card (SELECT MF without FCI, which vicc survives, and GET
CHALLENGE). With argument "pnp": two waits on the PnP reader name (a reader added while waiting, one removed while
not waiting, after a line on stdin). Prints one "key=value" line per step for the tests. Written for this project."""
import sys
import threading
import time

from smartcard.scard import (
    INFINITE, SCARD_E_CANCELLED, SCARD_LEAVE_CARD, SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1, SCARD_SCOPE_USER,
    SCARD_SHARE_SHARED, SCARD_STATE_CHANGED, SCARD_STATE_UNAWARE, SCardCancel, SCardConnect, SCardDisconnect,
    SCardEstablishContext, SCardGetStatusChange, SCardListReaders, SCardReleaseContext, SCardTransmit,
)
from smartcard.System import readers as high_level_readers


def out(k, v):
    print(f"{k}={v}", flush=True)


def main(vicc):
    out("high_level_readers", "|".join(str(r) for r in high_level_readers()))
    rv, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    out("establish", hex(rv & 0xFFFFFFFF))
    rv, names = SCardListReaders(ctx, [])
    out("list", hex(rv & 0xFFFFFFFF))
    out("reader", names[0])
    rv, card, proto = SCardConnect(ctx, names[0], SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
    out("connect", hex(rv & 0xFFFFFFFF))
    out("protocol", proto)
    if vicc:
        select = [0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00]
        command = [0x00, 0x84, 0x00, 0x00, 0x08]
    else:
        select = [0x00, 0xA4, 0x04, 0x00, 0x0A, 0xA0, 0x00, 0x00, 0x00, 0x62, 0x03, 0x01, 0x0C, 0x06, 0x01]
        command = [0x00, 0x00, 0x00, 0x00]
    rv, resp = SCardTransmit(card, proto, select)
    out("select", bytes(resp).hex())
    rv, resp = SCardTransmit(card, proto, command)
    out("transmit", hex(rv & 0xFFFFFFFF))
    out("response_len", len(resp))
    if not vicc:
        out("hello", bytes(resp[:-2]).decode("ascii", "replace"))
    out("sw", bytes(resp[-2:]).hex())
    rv = SCardDisconnect(card, SCARD_LEAVE_CARD)
    out("disconnect", hex(rv & 0xFFFFFFFF))

    rv, states = SCardGetStatusChange(ctx, 0, [(names[0], SCARD_STATE_UNAWARE)])
    current = states[0][1] & ~SCARD_STATE_CHANGED
    out("state", hex(current))
    result = {}

    def wait():
        result["rv"], _ = SCardGetStatusChange(ctx, INFINITE, [(names[0], current)])

    t = threading.Thread(target=wait)
    t.start()
    # The test sees the waiter on the host side, then tells us to cancel.
    out("waiting", 1)
    sys.stdin.readline()
    # libpcsclite's SCardCancel does nothing (and returns success) until the waiter is inside its read of the event
    # message ("cancellable"): a test that cannot see the registration from outside may come too early, so repeat.
    for _ in range(50):
        rv = SCardCancel(ctx)
        t.join(0.2)
        if not t.is_alive():
            break
    out("cancel", hex(rv & 0xFFFFFFFF))
    t.join(10)
    out("wait_rv", hex(result.get("rv", 0) & 0xFFFFFFFF))
    out("wait_cancelled", result.get("rv") == SCARD_E_CANCELLED)
    rv = SCardReleaseContext(ctx)
    out("release", hex(rv & 0xFFFFFFFF))
    out("done", 1)


def pnp_wait(ctx, name):
    rv, states = SCardGetStatusChange(ctx, INFINITE, [(PNP, SCARD_STATE_UNAWARE)])
    out(name, hex(rv & 0xFFFFFFFF))
    out(f"{name}_changed", bool(states[0][1] & SCARD_STATE_CHANGED))
    rv, names = SCardListReaders(ctx, [])
    out(f"{name}_readers", "|".join(names))


def pnp():
    rv, ctx = SCardEstablishContext(SCARD_SCOPE_USER)
    rv, names = SCardListReaders(ctx, [])
    out("pnp_start_readers", "|".join(names))
    out("pnp_waiting", 1)
    pnp_wait(ctx, "pnp_added")
    out("pnp_listed", 1)
    sys.stdin.readline()
    pnp_wait(ctx, "pnp_removed")
    rv = SCardReleaseContext(ctx)
    out("release", hex(rv & 0xFFFFFFFF))
    out("done", 1)


PNP = "\\\\?PnP?\\Notification"

if __name__ == "__main__":
    if sys.argv[1:] == ["pnp"]:
        pnp()
    else:
        main(sys.argv[1:] == ["vicc"])
