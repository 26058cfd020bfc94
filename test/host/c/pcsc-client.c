/*
 * A small libpcsclite client for the host's socket tests (test/host/c-client.test.ts): each mode exercises one part of
 * the protocol through Debian's unmodified client library and prints one "name=0xCODE [detail]" line per check, so
 * the test asserts the codes pcsc-lite 1.9.9 gives. Written for this project.
 *
 * Modes (argv[1]):
 *   errors [vicc]     error paths: bad handles, small buffers (with the needed length), unknown reader, exclusive
 *                     sharing between two contexts, EndTransaction without Begin, GetStatusChange timeout; with the
 *                     hello-world card, or with "vicc" vsmartcard's iso7816 card (SELECT MF without FCI, GET CHALLENGE)
 *   removed           connect, "CONNECTED", wait for a line (the test removes the card), then the codes of Transmit,
 *                     Status, Connect and Disconnect without the card
 *   hold              connect, BeginTransaction, print "LOCKED", wait for a line on stdin, EndTransaction, exit
 *   contend           connect, "CONNECTED", wait for a line; then, while another process holds the transaction:
 *                     GetAttrib fails at once (SHARING_VIOLATION), BeginTransaction waits until it is released
 *   transmit-loop N   SELECT, then N-byte extended ECHOs forever (killed by the test), "RUNNING" after the first
 *   wait              GetStatusChange(INFINITE) on the card's current state, "WAITING" before, the code after
 *   pnp               two GetStatusChange(INFINITE) waits on \\?PnP?\Notification: the first entered at once
 *                     ("PNP_WAITING"), the second after a line on stdin ("PNP_LISTED": the reader list changes while
 *                     the client is not waiting); after each, the code, whether CHANGED is set and the reader count
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winscard.h>
#include <reader.h>

#define CHECK(name, expr) do { LONG rv_ = (expr); printf("%s=0x%08lX\n", name, (unsigned long)rv_); fflush(stdout); } while (0)

static const unsigned char SELECT[] = {0x00, 0xA4, 0x04, 0x00, 0x0A, 0xA0, 0x00, 0x00, 0x00, 0x62, 0x03, 0x01, 0x0C, 0x06, 0x01};
static const unsigned char HELLO[] = {0x00, 0x00, 0x00, 0x00};
/* vicc's file system crashes on a SELECT asking for FCI: P2 = 0C (no response data), and GET CHALLENGE of 8 bytes. */
static const unsigned char SELECT_MF[] = {0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00};
static const unsigned char CHALLENGE[] = {0x00, 0x84, 0x00, 0x00, 0x08};

static char reader[MAX_READERNAME + 1];

static SCARDCONTEXT establish(void)
{
	SCARDCONTEXT ctx;
	char buf[4096];
	DWORD len = sizeof buf;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS) { printf("establish=0x%08lX\n", (unsigned long)rv); exit(2); }
	rv = SCardListReaders(ctx, NULL, buf, &len);
	if (rv != SCARD_S_SUCCESS) { printf("list=0x%08lX\n", (unsigned long)rv); exit(2); }
	strncpy(reader, buf, MAX_READERNAME);
	return ctx;
}

static SCARDHANDLE connect_shared(SCARDCONTEXT ctx)
{
	SCARDHANDLE h;
	DWORD proto;
	LONG rv = SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &proto);
	if (rv != SCARD_S_SUCCESS) { printf("connect=0x%08lX\n", (unsigned long)rv); exit(2); }
	return h;
}

static void wait_line(void)
{
	char line[64];
	if (fgets(line, sizeof line, stdin) == NULL) exit(3);
}

static int mode_errors(int vicc)
{
	const unsigned char *select = vicc ? SELECT_MF : SELECT, *command = vicc ? CHALLENGE : HELLO;
	DWORD selectLen = vicc ? sizeof SELECT_MF : sizeof SELECT, commandLen = vicc ? sizeof CHALLENGE : sizeof HELLO;
	SCARDCONTEXT ctx = establish(), ctx2;
	SCARDHANDLE h, h2;
	DWORD proto, len, state, atrLen, nameLen;
	unsigned char rx[300], atr[MAX_ATR_SIZE];
	char names[8], name[MAX_READERNAME];
	SCARD_READERSTATE rs;

	printf("reader=%s\n", reader);
	/* Bad handles (the client library's own lookups; nothing reaches the socket). */
	CHECK("connect_bad_context", SCardConnect(ctx + 1, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &h, &proto));
	len = sizeof rx;
	CHECK("transmit_bad_handle", SCardTransmit(0x1234, SCARD_PCI_T1, HELLO, sizeof HELLO, NULL, rx, &len));
	CHECK("release_bad_context", SCardReleaseContext(ctx + 1));
	/* Unknown reader: the server's answer. */
	CHECK("connect_unknown_reader", SCardConnect(ctx, "No Such Reader 00 00", SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &h, &proto));
	/* Small buffers: SCARD_E_INSUFFICIENT_BUFFER and the length needed. */
	len = sizeof names;
	CHECK("list_small", SCardListReaders(ctx, NULL, names, &len));
	printf("list_needed=%lu\n", (unsigned long)len);

	h = connect_shared(ctx);
	len = sizeof rx;
	CHECK("select", SCardTransmit(h, SCARD_PCI_T1, select, selectLen, NULL, rx, &len));
	printf("select_sw=%02X%02X\n", rx[len - 2], rx[len - 1]);
	len = 5;
	CHECK("transmit_small", SCardTransmit(h, SCARD_PCI_T1, command, commandLen, NULL, rx, &len));
	printf("transmit_needed=%lu\n", (unsigned long)len);
	len = sizeof rx;
	CHECK("transmit_hello", SCardTransmit(h, SCARD_PCI_T1, command, commandLen, NULL, rx, &len));
	if (!vicc) printf("hello=%.*s ", (int)(len - 2), rx);
	printf("response_len=%lu sw=%02X%02X\n", (unsigned long)len, rx[len - 2], rx[len - 1]);
	len = 2;
	CHECK("getattrib_small", SCardGetAttrib(h, SCARD_ATTR_ATR_STRING, rx, &len));
	len = 64; /* the client library refuses buffers over MAX_BUFFER_SIZE (264) */
	CHECK("getattrib_atr", SCardGetAttrib(h, SCARD_ATTR_ATR_STRING, rx, &len));
	printf("atr_len=%lu\n", (unsigned long)len);
	len = sizeof rx;
	CHECK("transmit_wrong_protocol", SCardTransmit(h, SCARD_PCI_T0, command, commandLen, NULL, rx, &len));
	nameLen = sizeof name;
	atrLen = sizeof atr;
	CHECK("status", SCardStatus(h, name, &nameLen, &state, &proto, atr, &atrLen));
	printf("status_state=0x%08lX status_protocol=%lu status_atr_len=%lu status_name=%s\n", (unsigned long)state,
		(unsigned long)proto, (unsigned long)atrLen, name);
	CHECK("end_without_begin", SCardEndTransaction(h, SCARD_LEAVE_CARD));

	/* Sharing: an exclusive connection while another handle exists, then a shared one while exclusive. */
	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx2) != SCARD_S_SUCCESS) return 2;
	CHECK("exclusive_while_shared", SCardConnect(ctx2, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1, &h2, &proto));
	CHECK("disconnect", SCardDisconnect(h, SCARD_LEAVE_CARD));
	CHECK("disconnect_again", SCardDisconnect(h, SCARD_LEAVE_CARD));
	CHECK("exclusive", SCardConnect(ctx2, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T1, &h2, &proto));
	CHECK("shared_while_exclusive", SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &h, &proto));
	CHECK("disconnect_exclusive", SCardDisconnect(h2, SCARD_LEAVE_CARD));

	/* GetStatusChange: unknown reader, then a timeout on the current state. */
	memset(&rs, 0, sizeof rs);
	rs.szReader = "No Such Reader 00 00";
	CHECK("gsc_unknown_reader", SCardGetStatusChange(ctx, 0, &rs, 1));
	rs.szReader = reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	CHECK("gsc_unaware", SCardGetStatusChange(ctx, 0, &rs, 1));
	printf("gsc_event_state=0x%08lX gsc_atr_len=%lu\n", (unsigned long)rs.dwEventState, (unsigned long)rs.cbAtr);
	rs.dwCurrentState = rs.dwEventState & ~SCARD_STATE_CHANGED;
	CHECK("gsc_timeout", SCardGetStatusChange(ctx, 50, &rs, 1));

	CHECK("release2", SCardReleaseContext(ctx2));
	CHECK("release", SCardReleaseContext(ctx));
	CHECK("release_again", SCardReleaseContext(ctx));
	return 0;
}

static int mode_hold(void)
{
	SCARDCONTEXT ctx = establish();
	SCARDHANDLE h = connect_shared(ctx);
	CHECK("begin", SCardBeginTransaction(h));
	printf("LOCKED\n");
	fflush(stdout);
	wait_line();
	CHECK("end", SCardEndTransaction(h, SCARD_LEAVE_CARD));
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return 0;
}

static int mode_contend(void)
{
	SCARDCONTEXT ctx = establish();
	SCARDHANDLE h = connect_shared(ctx);
	unsigned char buf[64];
	DWORD len = sizeof buf;
	/* Connected before the other process locks (a Connect would wait for its transaction too). */
	printf("CONNECTED\n");
	fflush(stdout);
	wait_line();
	CHECK("getattrib_locked", SCardGetAttrib(h, SCARD_ATTR_ATR_STRING, buf, &len));
	printf("BEGINNING\n");
	fflush(stdout);
	CHECK("begin", SCardBeginTransaction(h));
	printf("BEGUN\n");
	fflush(stdout);
	CHECK("end", SCardEndTransaction(h, SCARD_LEAVE_CARD));
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return 0;
}

static int mode_transmit_loop(int n)
{
	SCARDCONTEXT ctx = establish();
	SCARDHANDLE h = connect_shared(ctx);
	static unsigned char tx[70000], rx[70000];
	DWORD len = sizeof rx;
	unsigned long count = 0;
	if (n < 1 || n > 65535) n = 65000;
	SCardTransmit(h, SCARD_PCI_T1, SELECT, sizeof SELECT, NULL, rx, &len);
	tx[0] = 0x80; tx[1] = 0xEE; tx[4] = 0; tx[5] = n >> 8; tx[6] = n & 0xff;
	memset(tx + 7, 0x5A, n);
	for (;;) {
		LONG rv;
		len = sizeof rx;
		rv = SCardTransmit(h, SCARD_PCI_T1, tx, 7 + n + 2, NULL, rx, &len);
		if (rv != SCARD_S_SUCCESS) { printf("transmit=0x%08lX\n", (unsigned long)rv); return 4; }
		if (++count == 1) { printf("RUNNING\n"); fflush(stdout); }
	}
}

static int mode_wait(void)
{
	SCARDCONTEXT ctx = establish();
	SCARD_READERSTATE rs;
	memset(&rs, 0, sizeof rs);
	rs.szReader = reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	SCardGetStatusChange(ctx, 0, &rs, 1);
	rs.dwCurrentState = rs.dwEventState & ~SCARD_STATE_CHANGED;
	printf("WAITING\n");
	fflush(stdout);
	CHECK("wait", SCardGetStatusChange(ctx, INFINITE, &rs, 1));
	return 0;
}

static int count_readers(SCARDCONTEXT ctx)
{
	char buf[4096];
	DWORD len = sizeof buf;
	int n = 0;
	LONG rv = SCardListReaders(ctx, NULL, buf, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) return 0;
	if (rv != SCARD_S_SUCCESS) return -1;
	for (const char *p = buf; *p != '\0'; p += strlen(p) + 1) n++;
	return n;
}

static void pnp_wait(SCARDCONTEXT ctx, const char *name)
{
	SCARD_READERSTATE rs;
	memset(&rs, 0, sizeof rs);
	rs.szReader = "\\\\?PnP?\\Notification";
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	CHECK(name, SCardGetStatusChange(ctx, INFINITE, &rs, 1));
	printf("%s_changed=%d %s_readers=%d\n", name, (rs.dwEventState & SCARD_STATE_CHANGED) != 0, name,
		count_readers(ctx));
}

static int mode_removed(void)
{
	SCARDCONTEXT ctx = establish();
	SCARDHANDLE h = connect_shared(ctx), h2;
	DWORD proto, len = 64, state, atrLen = MAX_ATR_SIZE, nameLen = MAX_READERNAME;
	unsigned char rx[64], atr[MAX_ATR_SIZE];
	char name[MAX_READERNAME];
	printf("CONNECTED\n");
	wait_line();
	CHECK("transmit_removed", SCardTransmit(h, SCARD_PCI_T1, CHALLENGE, sizeof CHALLENGE, NULL, rx, &len));
	CHECK("status_removed", SCardStatus(h, name, &nameLen, &state, &proto, atr, &atrLen));
	CHECK("connect_no_card", SCardConnect(ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &h2, &proto));
	CHECK("disconnect_removed", SCardDisconnect(h, SCARD_LEAVE_CARD));
	CHECK("release", SCardReleaseContext(ctx));
	return 0;
}

static int mode_pnp(void)
{
	SCARDCONTEXT ctx = establish();
	printf("pnp_start_readers=%d\n", count_readers(ctx));
	printf("PNP_WAITING\n");
	pnp_wait(ctx, "pnp_added");
	printf("PNP_LISTED\n");
	wait_line();
	pnp_wait(ctx, "pnp_removed");
	CHECK("release", SCardReleaseContext(ctx));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "errors";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "errors") == 0) return mode_errors(argc > 2 && strcmp(argv[2], "vicc") == 0);
	if (strcmp(mode, "removed") == 0) return mode_removed();
	if (strcmp(mode, "hold") == 0) return mode_hold();
	if (strcmp(mode, "contend") == 0) return mode_contend();
	if (strcmp(mode, "transmit-loop") == 0) return mode_transmit_loop(argc > 2 ? atoi(argv[2]) : 65000);
	if (strcmp(mode, "wait") == 0) return mode_wait();
	if (strcmp(mode, "pnp") == 0) return mode_pnp();
	fprintf(stderr, "unknown mode %s\n", mode);
	return 1;
}
