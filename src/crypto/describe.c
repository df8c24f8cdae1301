/*
 * hz_crypto_describe: the line `hanzo version` prints about the crypto stack, so a bug report
 * shows which BLAKE3 kernel ran and which library versions were linked.
 */
#include "crypto/internal.h"

#include <openssl/crypto.h>
#include <sodium.h>

void hz_crypto_describe(hz_buf_t *out) {
    hz_buf_printf(out, "crypto: BLAKE3 %s (%s), libsodium %s, %s, PQClean", blake3_version(),
                  hz_blake3_simd(), sodium_version_string(), OpenSSL_version(OPENSSL_VERSION));
    for (size_t i = 0; hz_kem_at(i); i++) {
        if (hz_kem_at(i)->id == HZ_KEM_XWING) continue;
        hz_buf_printf(out, " %s", hz_kem_at(i)->name);
    }
    for (size_t i = 0; hz_sig_at(i); i++) hz_buf_printf(out, " %s", hz_sig_at(i)->name);
    hz_buf_puts(out, ", hybrid x-wing\n");
}
