/*
 * pcsc-diff: the differential suite's client (test/diff). Linked to libpcsclite, it reads a script from standard
 * input, one call per line, and prints one normalised line per call, so that the same script run against Debian's
 * pcscd and against smart-card-host gives transcripts that compare line by line.
 *
 * What a line shows, and what it leaves out:
 *   - the command as given, "=>", the return code's name (SCARD_E_...; unknown codes in hex);
 *   - outputs that a program can depend on: lengths, reader names (as the daemon gives them), states with the event
 *     counter in the high word, protocols, ATRs, response bytes;
 *   - never context or card handle values (random 31-bit numbers on both daemons), never times.
 * Outputs are printed even when the call fails, as a program would see them (libpcsclite sets some on errors).
 *
 * Commands (cN = context slot 0-7, hN = card handle slot 0-15, numbers in C syntax or by name):
 *   establish cN [SCOPE]           release cN                  valid cN                 cancel cN
 *   list cN [null|auto|LEN]        groups cN [null|auto|LEN]
 *   connect cN hM READER SHARE PROTO                           reconnect hM SHARE PROTO INIT
 *   disconnect hM DISP             begin hM                    end hM DISP
 *   status hM [RLEN|null|auto] [ALEN|null|auto]
 *   transmit hM PCI HEX|-|echo:N [RECVLEN]  (PCI: T0 T1 RAW or a number; "-" = empty APDU; echo:N = an 80 EE ECHO
 *                                            of N bytes, extended when N > 255)
 *   control hM CODE HEX|- [RECVLEN]          getattrib hM ATTR [LEN|null]          setattrib hM ATTR HEX|-
 *   gsc cN TIMEOUT READER=STATE...  (READER: rK = the K-th name of the last list, pnp, or a literal name; STATE may
 *                                    be "last" = the entry's event state of the previous gsc on that reader)
 *   sethandle hM VALUE  setctx cN VALUE   (forge a handle for the invalid-handle paths)
 *   async NAME COMMAND...   run COMMAND on a thread; its line is printed by "join NAME" (deterministic order);
 *                           "join NAME rc" prints its return code only (for a wait ended by Cancel: the states it
 *                           last saw depend on when pcscd's 400 ms status poll passed on a sharing change)
 *   cancel cN NAME          SCardCancel(cN) every 100 ms until the async command NAME has ended (a single Cancel
 *                           sent before the wait has begun would do nothing: libpcsclite only cancels a waiting call)
 *   sleep MS   say TEXT   exit [STATUS] (ends the process at once, holding whatever it holds)
 *   repeat N COMMAND...   run COMMAND N times; prints each distinct result word (return code) with its count, in the
 *                         order first seen (for pcscd's limits: 200 contexts, 200 handles per context or reader)
 *   remove / insert   take the in-memory card out / put it back: creates / deletes $DIFF_PRESENCE_DIR/absent, which
 *                     both in-memory readers poll (ifd-memcard.c, smart-card-host --memcard=DIR)
 * READER and HEX take no spaces: "_" in READER stands for a space.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winscard.h>

#define MAX_CTX 8
#define MAX_HANDLES 16
#define MAX_ASYNC 4
#define LINE 4096
#define OUT 200000

static SCARDCONTEXT ctx[MAX_CTX];
static SCARDHANDLE card[MAX_HANDLES];
static char readers[16][MAX_READERNAME + 1];
static int nreaders;
static DWORD last_state[16];

struct rcname { LONG rc; const char *name; };
static const struct rcname RC[] = {
	{0x00000000, "SCARD_S_SUCCESS"}, {(LONG)0x80100001, "SCARD_F_INTERNAL_ERROR"},
	{(LONG)0x80100002, "SCARD_E_CANCELLED"}, {(LONG)0x80100003, "SCARD_E_INVALID_HANDLE"},
	{(LONG)0x80100004, "SCARD_E_INVALID_PARAMETER"}, {(LONG)0x80100005, "SCARD_E_INVALID_TARGET"},
	{(LONG)0x80100006, "SCARD_E_NO_MEMORY"}, {(LONG)0x80100007, "SCARD_F_WAITED_TOO_LONG"},
	{(LONG)0x80100008, "SCARD_E_INSUFFICIENT_BUFFER"}, {(LONG)0x80100009, "SCARD_E_UNKNOWN_READER"},
	{(LONG)0x8010000A, "SCARD_E_TIMEOUT"}, {(LONG)0x8010000B, "SCARD_E_SHARING_VIOLATION"},
	{(LONG)0x8010000C, "SCARD_E_NO_SMARTCARD"}, {(LONG)0x8010000D, "SCARD_E_UNKNOWN_CARD"},
	{(LONG)0x8010000E, "SCARD_E_CANT_DISPOSE"}, {(LONG)0x8010000F, "SCARD_E_PROTO_MISMATCH"},
	{(LONG)0x80100010, "SCARD_E_NOT_READY"}, {(LONG)0x80100011, "SCARD_E_INVALID_VALUE"},
	{(LONG)0x80100012, "SCARD_E_SYSTEM_CANCELLED"}, {(LONG)0x80100013, "SCARD_F_COMM_ERROR"},
	{(LONG)0x80100014, "SCARD_F_UNKNOWN_ERROR"}, {(LONG)0x80100015, "SCARD_E_INVALID_ATR"},
	{(LONG)0x80100016, "SCARD_E_NOT_TRANSACTED"}, {(LONG)0x80100017, "SCARD_E_READER_UNAVAILABLE"},
	{(LONG)0x80100019, "SCARD_E_PCI_TOO_SMALL"}, {(LONG)0x8010001D, "SCARD_E_NO_SERVICE"},
	{(LONG)0x8010001E, "SCARD_E_SERVICE_STOPPED"}, {(LONG)0x8010001F, "SCARD_E_UNSUPPORTED_FEATURE"},
	{(LONG)0x8010002E, "SCARD_E_NO_READERS_AVAILABLE"}, {(LONG)0x80100065, "SCARD_W_UNSUPPORTED_CARD"},
	{(LONG)0x80100066, "SCARD_W_UNRESPONSIVE_CARD"}, {(LONG)0x80100067, "SCARD_W_UNPOWERED_CARD"},
	{(LONG)0x80100068, "SCARD_W_RESET_CARD"}, {(LONG)0x80100069, "SCARD_W_REMOVED_CARD"},
};

struct sym { const char *name; unsigned long value; };
static const struct sym SYMS[] = {
	{"USER", 0}, {"TERMINAL", 1}, {"SYSTEM", 2}, {"GLOBAL", 3},
	{"EXCLUSIVE", 1}, {"SHARED", 2}, {"DIRECT", 3},
	{"T0", 1}, {"T1", 2}, {"ANY", 3}, {"RAW", 4}, {"ANY_OLD", 0x1000},
	{"LEAVE", 0}, {"RESET", 1}, {"UNPOWER", 2}, {"EJECT", 3},
	{"INFINITE", 0xFFFFFFFF}, {"AUTO", SCARD_AUTOALLOCATE}, {"auto", SCARD_AUTOALLOCATE},
	{"UNAWARE", 0}, {"IGNORE", 1},
	{"ATR_STRING", 0x90303}, {"ICC_PRESENCE", 0x90300}, {"VENDOR_NAME", 0x10100},
	{"FRIENDLY_NAME_A", 0x7FFF0003}, {"SYSTEM_NAME_A", 0x7FFF0004}, {"FRIENDLY_NAME_W", 0x7FFF0005},
	{"GET_FEATURE_REQUEST", 0x42000D48},
};

static const char *rcname(LONG rc)
{
	static __thread char buf[16];
	size_t i;
	for (i = 0; i < sizeof RC / sizeof RC[0]; i++)
		if (RC[i].rc == rc) return RC[i].name;
	snprintf(buf, sizeof buf, "0x%08lX", (unsigned long)rc & 0xFFFFFFFFUL);
	return buf;
}

/* Output of one command, built in a buffer so that an async command prints it later. */
struct out { char text[OUT]; size_t n; };

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int k;
	if (o->n >= OUT - 1) return;
	va_start(ap, fmt);
	k = vsnprintf(o->text + o->n, OUT - o->n, fmt, ap);
	va_end(ap);
	if (k > 0) o->n += (size_t)k < OUT - o->n ? (size_t)k : OUT - 1 - o->n;
}

static void puthex(struct out *o, const unsigned char *p, unsigned long n)
{
	unsigned long i;
	if (n == 0) { put(o, "-"); return; }
	for (i = 0; i < n && i < 70000; i++) put(o, "%02X", p[i]);
}

static int fail_parse(struct out *o, const char *why)
{
	put(o, " !! bad command: %s", why);
	return -1;
}

static int num(const char *s, unsigned long *v)
{
	size_t i;
	char *end;
	if (s == NULL) return -1;
	for (i = 0; i < sizeof SYMS / sizeof SYMS[0]; i++)
		if (strcmp(SYMS[i].name, s) == 0) { *v = SYMS[i].value; return 0; }
	*v = strtoul(s, &end, 0);
	return *end == '\0' && end != s ? 0 : -1;
}

static int slot(const char *s, char kind, int max)
{
	int n;
	if (s == NULL || s[0] != kind) return -1;
	n = atoi(s + 1);
	return n >= 0 && n < max ? n : -1;
}

static int hexbytes(const char *s, unsigned char *buf, size_t cap)
{
	size_t n = 0;
	if (strcmp(s, "-") == 0) return 0;
	if (strncmp(s, "echo:", 5) == 0) {
		unsigned long len = strtoul(s + 5, NULL, 0), i;
		size_t off;
		if (len + 9 > cap) return -1;
		buf[0] = 0x80; buf[1] = 0xEE; buf[2] = 0; buf[3] = 0;
		if (len > 255) { buf[4] = 0; buf[5] = (unsigned char)(len >> 8); buf[6] = (unsigned char)len; off = 7; }
		else { buf[4] = (unsigned char)len; off = 5; }
		for (i = 0; i < len; i++) buf[off + i] = (unsigned char)(i * 7 + 3);
		return (int)(off + len);
	}
	while (s[0] && s[1] && n < cap) {
		unsigned int b;
		if (sscanf(s, "%2x", &b) != 1) return -1;
		buf[n++] = (unsigned char)b;
		s += 2;
	}
	return s[0] ? -1 : (int)n;
}

static void reader_name(const char *s, char *out)
{
	size_t i;
	if (s[0] == 'r' && s[1] >= '0' && s[1] <= '9' && atoi(s + 1) < 16) {
		strcpy(out, readers[atoi(s + 1)]);
		return;
	}
	if (strcmp(s, "pnp") == 0) { strcpy(out, "\\\\?PnP?\\Notification"); return; }
	snprintf(out, MAX_READERNAME + 64, "%s", s);
	for (i = 0; out[i]; i++) if (out[i] == '_') out[i] = ' ';
}

/* Prints a multi-string as name|name, each as the daemon gave it. */
static void put_multi(struct out *o, const char *p, unsigned long len, int remember)
{
	unsigned long i = 0;
	int k = 0;
	put(o, " names=");
	while (i < len && p[i]) {
		put(o, "%s\"%s\"", k ? "|" : "", p + i);
		if (remember && k < 16) snprintf(readers[k], sizeof readers[k], "%s", p + i);
		k++;
		i += strlen(p + i) + 1;
	}
	if (remember) nreaders = k;
}

static void cmd_list(struct out *o, char **a, int n, int groups)
{
	int c = slot(a[1], 'c', MAX_CTX);
	unsigned long len = 0;
	char *buf = NULL;
	DWORD dw;
	LONG rc;
	const char *mode = n > 2 ? a[2] : "auto";
	if (c < 0) { fail_parse(o, "context"); return; }
	if (strcmp(mode, "auto") == 0) {
		dw = SCARD_AUTOALLOCATE;
		rc = groups ? SCardListReaderGroups(ctx[c], (LPSTR)&buf, &dw)
			: SCardListReaders(ctx[c], NULL, (LPSTR)&buf, &dw);
		put(o, "%s len=%lu", rcname(rc), (unsigned long)dw);
		if (rc == SCARD_S_SUCCESS) { put_multi(o, buf, dw, !groups); SCardFreeMemory(ctx[c], buf); }
		return;
	}
	if (strcmp(mode, "null") != 0) {
		if (num(mode, &len)) { fail_parse(o, "length"); return; }
		buf = calloc(1, len + 1);
	}
	dw = len;
	rc = groups ? SCardListReaderGroups(ctx[c], buf, &dw) : SCardListReaders(ctx[c], NULL, buf, &dw);
	put(o, "%s len=%lu", rcname(rc), (unsigned long)dw);
	if (rc == SCARD_S_SUCCESS && buf) put_multi(o, buf, dw, !groups);
	free(buf);
}

static const SCARD_IO_REQUEST *pci_for(unsigned long proto, SCARD_IO_REQUEST *own)
{
	own->dwProtocol = proto;
	own->cbPciLength = sizeof(SCARD_IO_REQUEST);
	return own;
}

static void run(struct out *o, char **a, int n);

struct async {
	char name[32]; pthread_t t; char *argv[64]; int argc; char line[LINE]; struct out o; int used;
	volatile int done;
};
static struct async asyncs[MAX_ASYNC];

static void *async_main(void *p)
{
	struct async *x = p;
	run(&x->o, x->argv, x->argc);
	__atomic_store_n(&x->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void run(struct out *o, char **a, int n)
{
	const char *f = a[0];
	LONG rc;
	unsigned long v1 = 0, v2 = 0, v3 = 0;
	int c, h;
	static unsigned char sbuf[70000], rbuf[70000];

	if (strcmp(f, "establish") == 0) {
		if ((c = slot(a[1], 'c', MAX_CTX)) < 0) { fail_parse(o, "context"); return; }
		if (n > 2 && num(a[2], &v1)) { fail_parse(o, "scope"); return; }
		if (n <= 2) v1 = SCARD_SCOPE_SYSTEM;
		rc = SCardEstablishContext(v1, NULL, NULL, &ctx[c]);
		put(o, "%s", rcname(rc));
	} else if (strcmp(f, "release") == 0 || strcmp(f, "valid") == 0 || strcmp(f, "cancel") == 0) {
		if ((c = slot(a[1], 'c', MAX_CTX)) < 0) { fail_parse(o, "context"); return; }
		if (f[0] == 'c' && n > 2) {
			struct async *x = NULL;
			int i, tries;
			for (i = 0; i < MAX_ASYNC; i++) if (asyncs[i].used && strcmp(asyncs[i].name, a[2]) == 0) x = &asyncs[i];
			if (x == NULL) { fail_parse(o, "no such async command"); return; }
			rc = SCARD_S_SUCCESS;
			for (tries = 0; tries < 100 && !__atomic_load_n(&x->done, __ATOMIC_SEQ_CST); tries++) {
				rc = SCardCancel(ctx[c]);
				usleep(100000);
			}
			put(o, "%s", rcname(rc));
			return;
		}
		rc = f[0] == 'r' ? SCardReleaseContext(ctx[c]) : f[0] == 'v' ? SCardIsValidContext(ctx[c])
			: SCardCancel(ctx[c]);
		put(o, "%s", rcname(rc));
	} else if (strcmp(f, "setctx") == 0 || strcmp(f, "sethandle") == 0) {
		int s = slot(a[1], f[3] == 'c' ? 'c' : 'h', f[3] == 'c' ? MAX_CTX : MAX_HANDLES);
		if (s < 0 || num(a[2], &v1)) { fail_parse(o, "slot or value"); return; }
		if (f[3] == 'c') ctx[s] = v1; else card[s] = v1;
		put(o, "ok");
	} else if (strcmp(f, "list") == 0) {
		cmd_list(o, a, n, 0);
	} else if (strcmp(f, "groups") == 0) {
		cmd_list(o, a, n, 1);
	} else if (strcmp(f, "connect") == 0) {
		char name[MAX_READERNAME + 64];
		DWORD proto = 0xDEAD;
		if (n < 6 || (c = slot(a[1], 'c', MAX_CTX)) < 0 || (h = slot(a[2], 'h', MAX_HANDLES)) < 0 ||
			num(a[4], &v1) || num(a[5], &v2)) { fail_parse(o, "connect cN hM READER SHARE PROTO"); return; }
		reader_name(a[3], name);
		rc = SCardConnect(ctx[c], name, v1, v2, &card[h], &proto);
		put(o, "%s proto=%lu", rcname(rc), rc == SCARD_S_SUCCESS ? (unsigned long)proto : 0UL);
	} else if (strcmp(f, "reconnect") == 0) {
		DWORD proto = 0xDEAD;
		if (n < 5 || (h = slot(a[1], 'h', MAX_HANDLES)) < 0 || num(a[2], &v1) || num(a[3], &v2) || num(a[4], &v3))
			{ fail_parse(o, "reconnect hM SHARE PROTO INIT"); return; }
		rc = SCardReconnect(card[h], v1, v2, v3, &proto);
		put(o, "%s proto=%lu", rcname(rc), rc == SCARD_S_SUCCESS ? (unsigned long)proto : 0UL);
	} else if (strcmp(f, "disconnect") == 0 || strcmp(f, "end") == 0) {
		if (n < 3 || (h = slot(a[1], 'h', MAX_HANDLES)) < 0 || num(a[2], &v1))
			{ fail_parse(o, "hM DISPOSITION"); return; }
		rc = f[0] == 'd' ? SCardDisconnect(card[h], v1) : SCardEndTransaction(card[h], v1);
		put(o, "%s", rcname(rc));
	} else if (strcmp(f, "begin") == 0) {
		if ((h = slot(a[1], 'h', MAX_HANDLES)) < 0) { fail_parse(o, "handle"); return; }
		rc = SCardBeginTransaction(card[h]);
		put(o, "%s", rcname(rc));
	} else if (strcmp(f, "status") == 0) {
		char name[MAX_READERNAME * 2];
		unsigned char atr[MAX_ATR_SIZE + 8];
		DWORD rlen = sizeof name, alen = sizeof atr, state = 0xDEAD, proto = 0xDEAD;
		char *rname = name, *rauto = NULL;
		unsigned char *patr = atr, *aauto = NULL;
		if ((h = slot(a[1], 'h', MAX_HANDLES)) < 0) { fail_parse(o, "handle"); return; }
		if (n > 2) {
			if (strcmp(a[2], "null") == 0) { rname = NULL; rlen = 0; }
			else if (strcmp(a[2], "auto") == 0) { rname = (char *)&rauto; rlen = SCARD_AUTOALLOCATE; }
			else if (num(a[2], &v1) || v1 > sizeof name) { fail_parse(o, "reader length"); return; }
			else rlen = v1;
		}
		if (n > 3) {
			if (strcmp(a[3], "null") == 0) { patr = NULL; alen = 0; }
			else if (strcmp(a[3], "auto") == 0) { patr = (unsigned char *)&aauto; alen = SCARD_AUTOALLOCATE; }
			else if (num(a[3], &v2) || v2 > sizeof atr) { fail_parse(o, "ATR length"); return; }
			else alen = v2;
		}
		rc = SCardStatus(card[h], rname, &rlen, &state, &proto, patr, &alen);
		put(o, "%s rlen=%lu alen=%lu", rcname(rc), (unsigned long)rlen, (unsigned long)alen);
		if (rc == SCARD_S_SUCCESS) {
			const char *nm = rauto ? rauto : rname;
			const unsigned char *at = aauto ? aauto : patr;
			put(o, " state=0x%08lX proto=%lu name=\"%s\" atr=", (unsigned long)state, (unsigned long)proto,
				nm ? nm : "(null)");
			if (at) puthex(o, at, alen); else put(o, "(null)");
			if (rauto) SCardFreeMemory(ctx[0], rauto);
			if (aauto) SCardFreeMemory(ctx[0], aauto);
		}
	} else if (strcmp(f, "transmit") == 0) {
		SCARD_IO_REQUEST pci, rpci;
		int len;
		DWORD rlen = sizeof rbuf;
		if (n < 4 || (h = slot(a[1], 'h', MAX_HANDLES)) < 0 || num(a[2], &v1)) { fail_parse(o, "transmit"); return; }
		if ((len = hexbytes(a[3], sbuf, sizeof sbuf)) < 0) { fail_parse(o, "APDU"); return; }
		if (n > 4) { if (num(a[4], &v2) || v2 > sizeof rbuf) { fail_parse(o, "length"); return; } rlen = v2; }
		rpci.dwProtocol = 0; rpci.cbPciLength = sizeof rpci;
		rc = SCardTransmit(card[h], pci_for(v1, &pci), sbuf, (DWORD)len, &rpci, rbuf, &rlen);
		put(o, "%s len=%lu", rcname(rc), (unsigned long)rlen);
		if (rc == SCARD_S_SUCCESS) { put(o, " data="); puthex(o, rbuf, rlen); }
	} else if (strcmp(f, "control") == 0) {
		int len;
		DWORD ret = 0xDEAD, rlen = sizeof rbuf;
		if (n < 4 || (h = slot(a[1], 'h', MAX_HANDLES)) < 0 || num(a[2], &v1)) { fail_parse(o, "control"); return; }
		if ((len = hexbytes(a[3], sbuf, sizeof sbuf)) < 0) { fail_parse(o, "data"); return; }
		if (n > 4) { if (num(a[4], &v2) || v2 > sizeof rbuf) { fail_parse(o, "length"); return; } rlen = v2; }
		rc = SCardControl(card[h], v1, sbuf, (DWORD)len, rbuf, rlen, &ret);
		put(o, "%s", rcname(rc));
		if (rc == SCARD_S_SUCCESS) { put(o, " len=%lu data=", (unsigned long)ret); puthex(o, rbuf, ret); }
	} else if (strcmp(f, "getattrib") == 0) {
		DWORD len = 264;
		unsigned char *p = rbuf;
		if (n < 3 || (h = slot(a[1], 'h', MAX_HANDLES)) < 0 || num(a[2], &v1)) { fail_parse(o, "getattrib"); return; }
		if (n > 3) {
			if (strcmp(a[3], "null") == 0) { p = NULL; len = 0; }
			else if (num(a[3], &v2) || v2 > sizeof rbuf) { fail_parse(o, "length"); return; }
			else len = v2;
		}
		rc = SCardGetAttrib(card[h], v1, p, &len);
		put(o, "%s len=%lu", rcname(rc), (unsigned long)len);
		if (rc == SCARD_S_SUCCESS && p) { put(o, " data="); puthex(o, p, len); }
	} else if (strcmp(f, "setattrib") == 0) {
		int len;
		if (n < 4 || (h = slot(a[1], 'h', MAX_HANDLES)) < 0 || num(a[2], &v1)) { fail_parse(o, "setattrib"); return; }
		if ((len = hexbytes(a[3], sbuf, sizeof sbuf)) < 0) { fail_parse(o, "value"); return; }
		rc = SCardSetAttrib(card[h], v1, sbuf, (DWORD)len);
		put(o, "%s", rcname(rc));
	} else if (strcmp(f, "gsc") == 0) {
		SCARD_READERSTATE st[20];
		char names[20][MAX_READERNAME + 64];
		int k, cnt = n - 3, idx[20];
		if (n < 3 || (c = slot(a[1], 'c', MAX_CTX)) < 0 || num(a[2], &v1) || cnt > 20)
			{ fail_parse(o, "gsc cN TIMEOUT READER=STATE..."); return; }
		memset(st, 0, sizeof st);
		for (k = 0; k < cnt; k++) {
			char *eq = strchr(a[3 + k], '=');
			if (eq == NULL) { fail_parse(o, "READER=STATE"); return; }
			*eq = '\0';
			reader_name(a[3 + k], names[k]);
			idx[k] = a[3 + k][0] == 'r' ? atoi(a[3 + k] + 1) % 16 : 15;
			if (strcmp(eq + 1, "last") == 0) v2 = last_state[idx[k]];
			else if (num(eq + 1, &v2)) { fail_parse(o, "state"); return; }
			*eq = '=';
			st[k].szReader = names[k];
			st[k].dwCurrentState = v2;
		}
		rc = SCardGetStatusChange(ctx[c], v1, st, (DWORD)cnt);
		put(o, "%s", rcname(rc));
		for (k = 0; k < cnt; k++) {
			put(o, " [event=0x%08lX atr=", (unsigned long)st[k].dwEventState);
			puthex(o, st[k].rgbAtr, st[k].cbAtr > sizeof st[k].rgbAtr ? 0 : st[k].cbAtr);
			put(o, "]");
			last_state[idx[k]] = st[k].dwEventState;
		}
	} else if (strcmp(f, "repeat") == 0) {
		char seen[8][64];
		unsigned long count[8];
		unsigned long i;
		int k, kinds = 0;
		static struct out one;
		if (n < 3 || num(a[1], &v1)) { fail_parse(o, "repeat N COMMAND"); return; }
		for (i = 0; i < v1; i++) {
			char word[64];
			one.n = 0;
			one.text[0] = '\0';
			run(&one, a + 2, n - 2);
			sscanf(one.text, "%63s", word);
			for (k = 0; k < kinds && strcmp(seen[k], word) != 0; k++) {}
			if (k == kinds && kinds < 8) { snprintf(seen[kinds], sizeof seen[0], "%s", word); count[kinds++] = 0; }
			if (k < kinds) count[k]++;
		}
		for (k = 0; k < kinds; k++) put(o, "%s%s x%lu", k ? ", " : "", seen[k], count[k]);
	} else if (strcmp(f, "sleep") == 0) {
		if (num(a[1], &v1)) { fail_parse(o, "ms"); return; }
		usleep((useconds_t)v1 * 1000);
		put(o, "ok");
	} else if (strcmp(f, "remove") == 0 || strcmp(f, "insert") == 0) {
		const char *dir = getenv("DIFF_PRESENCE_DIR");
		char path[1024];
		if (dir == NULL) { fail_parse(o, "DIFF_PRESENCE_DIR is not set"); return; }
		snprintf(path, sizeof path, "%s/absent", dir);
		if (f[0] == 'r') {
			FILE *fp = fopen(path, "w");
			if (fp == NULL) { fail_parse(o, "cannot create the absent file"); return; }
			fclose(fp);
		} else if (unlink(path) != 0) { fail_parse(o, "cannot delete the absent file"); return; }
		put(o, "ok");
	} else if (strcmp(f, "say") == 0) {
		put(o, "ok");
	} else if (strcmp(f, "exit") == 0) {
		fflush(stdout);
		_exit(n > 1 ? atoi(a[1]) : 0);
	} else {
		fail_parse(o, "unknown command");
	}
}

static int split(char *line, char **argv, int max)
{
	int n = 0;
	char *tok = strtok(line, " \t\r\n");
	while (tok && n < max - 1) { argv[n++] = tok; tok = strtok(NULL, " \t\r\n"); }
	argv[n] = NULL;
	return n;
}

int main(void)
{
	char line[LINE], copy[LINE];
	char *argv[64];
	int n, i;
	static struct out o;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#') continue;
		strcpy(copy, line);
		n = split(copy, argv, 64);
		if (n == 0) continue;
		o.n = 0;
		o.text[0] = '\0';
		if (strcmp(argv[0], "async") == 0 && n >= 3) {
			struct async *x = NULL;
			for (i = 0; i < MAX_ASYNC; i++) if (!asyncs[i].used) { x = &asyncs[i]; break; }
			if (x == NULL) { printf("%s => !! too many async commands\n", line); continue; }
			memset(x, 0, sizeof *x);
			x->used = 1;
			snprintf(x->name, sizeof x->name, "%s", argv[1]);
			snprintf(x->line, sizeof x->line, "%s", line);
			/* The command's words, from the third on, re-split from a private copy. */
			{
				char *p = x->line, *save = NULL;
				int k = 0;
				char *tok = strtok_r(p, " \t", &save);
				while (tok && k < 63) { if (k++ >= 2) x->argv[x->argc++] = tok; tok = strtok_r(NULL, " \t", &save); }
				x->argv[x->argc] = NULL;
			}
			pthread_create(&x->t, NULL, async_main, x);
			printf("%s => started\n", line);
			continue;
		}
		if (strcmp(argv[0], "join") == 0 && n >= 2) {
			struct async *x = NULL;
			for (i = 0; i < MAX_ASYNC; i++) if (asyncs[i].used && strcmp(asyncs[i].name, argv[1]) == 0) x = &asyncs[i];
			if (x == NULL) { printf("%s => !! no such async command\n", line); continue; }
			pthread_join(x->t, NULL);
			x->used = 0;
			if (n > 2 && strcmp(argv[2], "rc") == 0) x->o.text[strcspn(x->o.text, " ")] = '\0';
			printf("%s => %s\n", line, x->o.text);
			continue;
		}
		run(&o, argv, n);
		printf("%s => %s\n", line, o.text);
	}
	return 0;
}
