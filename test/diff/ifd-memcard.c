/* A minimal IFD handler for pcscd: an in-memory "Hello world" card, no I/O.
 * The project's native anchor (../shared/anchors/native-pcscd/ifd_memcard.c), kept
 * here so the differential suite (test/diff) builds it where the anchor is absent.
 * Its TypeScript twin is src/host/readers/memcard.ts (smart-card-host --memcard):
 * change both together.
 * Card behaviour (shared with the project's benchmark card):
 *   SELECT 00 A4 04 00 0A A0 00 00 00 62 03 01 0C 06 01 -> 90 00
 *   00 00 00 00                                        -> "Hello world!" 90 00
 *   00 84 00 00 Le (GET CHALLENGE)                      -> Le bytes, 90 00
 *   80 EE 00 00 Lc data [Le] (ECHO)                     -> data, 90 00
 *   anything else                                      -> 6D 00
 * Added for the differential suite: when DEVICENAME names a directory, the card is
 * absent while DIRECTORY/absent exists (pcscd polls IFDHICCPresence every 400 ms),
 * as smart-card-host --memcard=DIRECTORY does.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <PCSC/ifdhandler.h>
#include <PCSC/reader.h>

static const UCHAR ATR[] = {0x3B, 0x8C, 0x80, 0x01, 0x48, 0x65, 0x6C, 0x6C,
                            0x6F, 0x43, 0x61, 0x72, 0x64, 0x21, 0x21, 0x21, 0x5B};
static int powered;
static DWORD rnd = 0x12345678;
static char absent_file[1024];

static int absent(void) { return absent_file[0] != '\0' && access(absent_file, F_OK) == 0; }

RESPONSECODE IFDHCreateChannelByName(DWORD Lun, LPSTR DeviceName)
{
	struct stat st;
	(void)Lun;
	if (DeviceName != NULL && stat(DeviceName, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(absent_file, sizeof absent_file, "%s/absent", DeviceName);
	return IFD_SUCCESS;
}
RESPONSECODE IFDHCreateChannel(DWORD Lun, DWORD Channel) { (void)Lun; (void)Channel; return IFD_SUCCESS; }
RESPONSECODE IFDHCloseChannel(DWORD Lun) { (void)Lun; return IFD_SUCCESS; }
RESPONSECODE IFDHControl(DWORD Lun, DWORD code, PUCHAR tx, DWORD txlen, PUCHAR rx, DWORD rxlen, LPDWORD ret)
{ (void)Lun; (void)code; (void)tx; (void)txlen; (void)rx; (void)rxlen; *ret = 0; return IFD_ERROR_NOT_SUPPORTED; }

RESPONSECODE IFDHGetCapabilities(DWORD Lun, DWORD Tag, PDWORD Length, PUCHAR Value)
{
	(void)Lun;
	switch (Tag) {
	case TAG_IFD_ATR:
		if (*Length < sizeof ATR) return IFD_ERROR_INSUFFICIENT_BUFFER;
		memcpy(Value, ATR, sizeof ATR); *Length = sizeof ATR; return IFD_SUCCESS;
	case TAG_IFD_SLOTS_NUMBER: *Value = 1; *Length = 1; return IFD_SUCCESS;
	case TAG_IFD_SIMULTANEOUS_ACCESS: *Value = 1; *Length = 1; return IFD_SUCCESS;
	case TAG_IFD_THREAD_SAFE: *Value = 0; *Length = 1; return IFD_SUCCESS;
	case SCARD_ATTR_ICC_PRESENCE: *Value = 2; *Length = 1; return IFD_SUCCESS;
	default: return IFD_ERROR_TAG;
	}
}
RESPONSECODE IFDHSetCapabilities(DWORD Lun, DWORD Tag, DWORD Length, PUCHAR Value)
{ (void)Lun; (void)Tag; (void)Length; (void)Value; return IFD_NOT_SUPPORTED; }
RESPONSECODE IFDHSetProtocolParameters(DWORD Lun, DWORD Protocol, UCHAR Flags, UCHAR PTS1, UCHAR PTS2, UCHAR PTS3)
{ (void)Lun; (void)Flags; (void)PTS1; (void)PTS2; (void)PTS3; return Protocol == SCARD_PROTOCOL_T1 ? IFD_SUCCESS : IFD_PROTOCOL_NOT_SUPPORTED; }

RESPONSECODE IFDHPowerICC(DWORD Lun, DWORD Action, PUCHAR Atr, PDWORD AtrLength)
{
	(void)Lun;
	if (Action == IFD_POWER_DOWN) { powered = 0; *AtrLength = 0; return IFD_SUCCESS; }
	if (absent()) { powered = 0; *AtrLength = 0; return IFD_ICC_NOT_PRESENT; }
	powered = 1; memcpy(Atr, ATR, sizeof ATR); *AtrLength = sizeof ATR; return IFD_SUCCESS;
}

static void sw(PUCHAR rx, PDWORD rxlen, DWORD n, UCHAR a, UCHAR b) { rx[n] = a; rx[n + 1] = b; *rxlen = n + 2; }

RESPONSECODE IFDHTransmitToICC(DWORD Lun, SCARD_IO_HEADER SendPci, PUCHAR tx, DWORD txlen, PUCHAR rx, PDWORD rxlen, PSCARD_IO_HEADER RecvPci)
{
	(void)Lun; (void)SendPci; (void)RecvPci;
	if (absent()) { powered = 0; *rxlen = 0; return IFD_ICC_NOT_PRESENT; }
	if (!powered) return IFD_COMMUNICATION_ERROR;
	if (txlen >= 4 && tx[0] == 0x00 && tx[1] == 0xA4) { sw(rx, rxlen, 0, 0x90, 0x00); return IFD_SUCCESS; }
	if (txlen >= 4 && tx[0] == 0x00 && tx[1] == 0x00) { memcpy(rx, "Hello world!", 12); sw(rx, rxlen, 12, 0x90, 0x00); return IFD_SUCCESS; }
	if (txlen == 5 && tx[1] == 0x84) {
		DWORD n = tx[4] ? tx[4] : 256, i;
		for (i = 0; i < n; i++) { rnd = rnd * 1103515245 + 12345; rx[i] = (UCHAR)(rnd >> 16); }
		sw(rx, rxlen, n, 0x90, 0x00); return IFD_SUCCESS;
	}
	if (txlen >= 5 && tx[1] == 0xEE) {
		DWORD lc, off;
		if (tx[4] == 0 && txlen >= 7) { lc = (tx[5] << 8) | tx[6]; off = 7; } else { lc = tx[4]; off = 5; }
		if (off + lc > txlen) lc = txlen - off;
		memmove(rx, tx + off, lc); sw(rx, rxlen, lc, 0x90, 0x00); return IFD_SUCCESS;
	}
	sw(rx, rxlen, 0, 0x6D, 0x00); return IFD_SUCCESS;
}
RESPONSECODE IFDHICCPresence(DWORD Lun)
{
	(void)Lun;
	if (absent()) { powered = 0; return IFD_ICC_NOT_PRESENT; }
	return IFD_ICC_PRESENT;
}
