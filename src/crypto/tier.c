/*
 * Privacy tiers 0-4. A tier is a row of policy: the algorithms that protect a workload's data
 * (a floor on the NIST category: 3 for tiers 0-2, 5 for tiers 3-4) and the features the node must
 * have. Encryption at rest is the node's own business; the TEE features can only be believed on
 * the word of an attestation verified by the key broker, which hands over an hz_attestation_t.
 * Until a broker exists the attestation is HZ_ATTESTATION_NONE, and tiers 2-4 are refused with a
 * message that says exactly what is missing, rather than quietly run with less protection.
 */
#include "crypto/key_internal.h"

#include <stdio.h>
#include <string.h>

static const hz_tier_info_t tiers[HZ_TIER_COUNT] = {
    {HZ_TIER_OPEN, "open", "Open", "ml-kem-768", "x-wing", "ml-dsa-65", 3, 0},
    {HZ_TIER_AT_REST, "at-rest", "At-Rest", "ml-kem-768", "x-wing", "ml-dsa-65", 3, HZ_TIER_F_ENCRYPT_AT_REST},
    {HZ_TIER_CPU_TEE, "cpu-tee", "CPU TEE", "ml-kem-768", "x-wing", "ml-dsa-65", 3,
     HZ_TIER_F_ENCRYPT_AT_REST | HZ_TIER_F_CPU_TEE},
    {HZ_TIER_GPU_CC, "gpu-cc", "GPU CC", "ml-kem-1024", "ml-kem-1024", "ml-dsa-87", 5,
     HZ_TIER_F_ENCRYPT_AT_REST | HZ_TIER_F_CPU_TEE | HZ_TIER_F_GPU_CC},
    {HZ_TIER_GPU_TEE_IO, "gpu-tee-io", "GPU TEE-I/O", "ml-kem-1024", "ml-kem-1024", "ml-dsa-87", 5,
     HZ_TIER_F_ENCRYPT_AT_REST | HZ_TIER_F_CPU_TEE | HZ_TIER_F_GPU_CC | HZ_TIER_F_TEE_IO},
};

static const struct {
    unsigned bit;
    const char *name;
} features[] = {
    {HZ_TIER_F_CPU_TEE, "a CPU TEE"},
    {HZ_TIER_F_GPU_CC, "GPU confidential computing"},
    {HZ_TIER_F_TEE_IO, "TEE-I/O"},
};

const hz_tier_info_t *hz_tier_info(hz_tier_t tier) {
    if ((unsigned)tier >= HZ_TIER_COUNT) {
        hz_error_set(HZ_EINVAL, "privacy tier %d does not exist (tiers are 0-4)", (int)tier);
        return NULL;
    }
    return &tiers[tier];
}

int hz_tier_parse(const char *s, hz_tier_t *out) {
    if (!s) return hz_error_set(HZ_EINVAL, "privacy tier is NULL");
    for (int i = 0; i < HZ_TIER_COUNT; i++) {
        char digit[2] = {(char)('0' + i), '\0'};
        if (strcmp(s, digit) == 0 || hz_str_ieq(s, tiers[i].name) || hz_str_ieq(s, tiers[i].title)) {
            *out = (hz_tier_t)i;
            return 0;
        }
    }
    return hz_error_set(HZ_EINVAL, "unknown privacy tier \"%s\" (0 open, 1 at-rest, 2 cpu-tee, 3 gpu-cc, 4 gpu-tee-io)", s);
}

/* "a CPU TEE and GPU confidential computing" for the attested features in mask. */
static void feature_list(unsigned mask, char *out, size_t cap) {
    size_t n = 0, total = 0, seen = 0;
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) total += (mask & features[i].bit) != 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
        if (!(mask & features[i].bit)) continue;
        seen++;
        const char *sep = seen == 1 ? "" : seen == total ? " and " : ", ";
        int w = snprintf(out + n, cap - n, "%s%s", sep, features[i].name);
        if (w < 0 || (size_t)w >= cap - n) return;
        n += (size_t)w;
    }
}

int hz_tier_check(hz_tier_t tier, const hz_attestation_t *att) {
    const hz_tier_info_t *t = hz_tier_info(tier);
    if (!t) return HZ_EINVAL;
    unsigned need = t->features & HZ_TIER_F_ATTESTED;
    if (!need) return 0;
    char want[160];
    feature_list(need, want, sizeof(want));
    if (!att || !att->verified)
        return hz_error_set(HZ_EAUTH, "privacy tier %d (%s) needs a verified attestation of %s; %s", (int)tier, t->title,
                            want, att && att->features ? "the attestation present is not verified"
                                                       : "none is present (the key broker supplies it)");
    if (att->expires_ms && att->expires_ms <= hz_time_now_ms())
        return hz_error_set(HZ_EAUTH, "privacy tier %d (%s): the %s attestation expired", (int)tier, t->title,
                            att->platform[0] ? att->platform : "node's");
    unsigned missing = need & ~att->features;
    if (missing) {
        char lack[160];
        feature_list(missing, lack, sizeof(lack));
        return hz_error_set(HZ_EAUTH, "privacy tier %d (%s) needs an attestation of %s; the %s attestation does not "
                            "prove %s", (int)tier, t->title, want, att->platform[0] ? att->platform : "node's", lack);
    }
    return 0;
}

int hz_tier_check_key(hz_tier_t tier, const hz_key_t *key) {
    const hz_tier_info_t *t = hz_tier_info(tier);
    if (!t) return HZ_EINVAL;
    if (!key) return hz_error_set(HZ_EINVAL, "no key");
    int level = key->kem ? key->kem->nist_level : key->sig->nist_level;
    if (level < t->min_level)
        return hz_error_set(HZ_EINVAL, "privacy tier %d (%s) needs NIST category %d algorithms (%s, %s); %s is category %d",
                            (int)tier, t->title, t->min_level, t->kem, t->sig, key->alg, level);
    return 0;
}
