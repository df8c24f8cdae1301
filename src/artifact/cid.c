/*
 * CIDv1 for IPFS gateways: multibase base32 (lowercase, no padding, prefix 'b') over
 *   varint 1 (CID version) | varint 0x55 (raw codec) | varint 0x1e (BLAKE3 multihash) |
 *   varint 32 (digest length) | the 32-byte digest
 * which is 36 bytes, 59 characters, always starting "bafkr4i". An artifact's CID is over the
 * .ai file's bytes (what the gateway serves), not over the content hash.
 */
#include "artifact/internal.h"

#include <string.h>

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
static const uint8_t prefix[4] = {0x01, 0x55, 0x1e, 0x20};

void hz_ai_cid_from_blake3(const uint8_t digest[32], char *out, size_t out_len) {
    uint8_t bin[36];
    memcpy(bin, prefix, 4);
    memcpy(bin + 4, digest, 32);
    char s[64];
    size_t n = 0;
    s[n++] = 'b';
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < sizeof(bin); i++) {
        acc = acc << 8 | bin[i];
        bits += 8;
        while (bits >= 5) {
            s[n++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) s[n++] = b32[(acc << (5 - bits)) & 31];
    s[n] = '\0';
    snprintf(out, out_len, "%s", s);
}

int hz_ai_cid_parse(const char *cid, uint8_t digest[32]) {
    size_t len = cid ? strlen(cid) : 0;
    if (len != 59 || cid[0] != 'b') return hz_error_set(HZ_EINVAL, "\"%s\" is not a base32 CIDv1 of 59 characters", cid ? cid : "");
    uint8_t bin[37];
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 1; i < len; i++) {
        const char *p = strchr(b32, cid[i]);
        if (!p || !cid[i]) return hz_error_set(HZ_EINVAL, "CID \"%s\": '%c' is not base32", cid, cid[i]);
        acc = acc << 5 | (uint32_t)(p - b32);
        bits += 5;
        if (bits >= 8) {
            if (n == sizeof(bin)) return hz_error_set(HZ_EINVAL, "CID \"%s\" is too long", cid);
            bin[n++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (n != 36) return hz_error_set(HZ_EINVAL, "CID \"%s\" holds %zu bytes, expected 36", cid, n);
    if (memcmp(bin, prefix, 4) != 0)
        return hz_error_set(HZ_EINVAL, "CID \"%s\" is not CIDv1 raw with a BLAKE3-256 multihash (prefix %02x %02x %02x %02x)", cid,
                            bin[0], bin[1], bin[2], bin[3]);
    memcpy(digest, bin + 4, 32);
    return 0;
}
