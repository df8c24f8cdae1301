/*
 * libFuzzer target: the .ai reader on arbitrary bytes - our ZIP structure parser, libzip for
 * deflated entries, _format, manifest, metadata, signatures, the data pass, and unpack.
 *
 * The input is put in a memfd and read through /proc/self/fd, the same path a real file takes.
 * Oracles beyond "no crash, no sanitizer report, no leak":
 *  - a rejection is a negative code with a message; when it carries a reason, the message starts
 *    with that reason's name;
 *  - an accepted archive lists its files sorted, each with a name that passes the name rules;
 *  - unpack writes only inside its destination: afterwards the scratch folder holds the
 *    destination and nothing else, and every file in it is one the manifest lists (or one of the
 *    format's own files);
 *  - verify and unpack agree: both accept or both reject, with the same reason.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifact/internal.h"

static void die(const char *what) {
    fprintf(stderr, "fuzz_artifact_reader: %s (last error: %s)\n", what, hz_error_last());
    abort();
}

static void check_failure(int rc) {
    if (rc >= 0) die("a failure returned a non-negative code");
    const char *msg = hz_error_last();
    if (!msg || !*msg) die("a failure without a message");
    hz_ai_err_t r = hz_ai_error_reason();
    if (r != HZ_AI_OK && !strstr(msg, hz_ai_error_name(r))) die("the message does not name the reason");
}

/* Every regular file below dir (relative path rel) must be listed or be a format file. */
static void walk_check(const char *dir, const char *rel, const hz_ai_info_t *info) {
    char *path = *rel ? hz_sprintf("%s/%s", dir, rel) : hz_strdup(dir);
    DIR *d = opendir(path);
    if (!d) die("cannot open an unpacked folder");
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *sub = *rel ? hz_sprintf("%s/%s", rel, de->d_name) : hz_strdup(de->d_name);
        char *full = hz_sprintf("%s/%s", dir, sub);
        struct stat st;
        if (lstat(full, &st) != 0) die("lstat");
        if (S_ISDIR(st.st_mode)) {
            walk_check(dir, sub, info);
        } else {
            if (!S_ISREG(st.st_mode)) die("unpack created something that is not a regular file");
            bool known = !strcmp(sub, AI_NAME_MANIFEST) || !strcmp(sub, AI_NAME_METADATA) || hz_str_starts_with(sub, AI_SIG_DIR);
            for (size_t i = 0; i < info->nfiles && !known; i++) known = !strcmp(info->files[i].path, sub);
            if (!known) die("unpack wrote a file the manifest does not list");
        }
        hz_free(sub);
        hz_free(full);
    }
    closedir(d);
    hz_free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("ai", MFD_CLOEXEC);
    if (fd < 0 || ai_write_all(fd, data, size, "memfd") != 0) die("memfd");
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    hz_ai_limits_t lim;
    hz_ai_limits_default(&lim);
    lim.max_total_bytes = 8u << 20;  /* keep each input fast */
    lim.max_deflated_bytes = 4u << 20;
    lim.max_entries = 1000;
    hz_ai_read_opts_t ro = {.limits = &lim, .threads = 1};

    hz_ai_info_t *info = NULL;
    int rc = hz_ai_info(path, &ro, &info);
    if (rc) {
        check_failure(rc);
        if (info) die("info set on failure");
        close(fd);
        return 0;
    }
    for (size_t i = 0; i < info->nfiles; i++) {
        if (ai_name_check(info->files[i].path, strlen(info->files[i].path), "file") != 0) die("an accepted name breaks the rules");
        if (i && strcmp(info->files[i - 1].path, info->files[i].path) >= 0) die("files not sorted");
    }
    json_object_put(hz_ai_info_to_json(info));

    int vrc = hz_ai_verify(path, &ro, NULL);
    hz_ai_err_t vreason = hz_ai_error_reason();
    if (vrc) check_failure(vrc);

    char scratch[] = "/tmp/hz-fuzz-ai-XXXXXX";
    if (!mkdtemp(scratch)) die("mkdtemp");
    char *dest = hz_sprintf("%s/out", scratch);
    int urc = hz_ai_unpack(path, dest, &ro, NULL);
    if ((urc == 0) != (vrc == 0)) die("verify and unpack disagree");
    if (urc) {
        check_failure(urc);
        if (hz_ai_error_reason() != vreason) die("verify and unpack give different reasons");
    }
    DIR *d = opendir(scratch);
    struct dirent *de;
    int entries = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            entries++;
            if (strcmp(de->d_name, "out") != 0) die("unpack left something beside its destination");
        }
    closedir(d);
    if (urc == 0) {
        if (entries != 1) die("unpack succeeded without a destination");
        walk_check(dest, "", info);
    } else if (entries != 0) {
        die("a failed unpack left its destination");
    }
    ai_rmtree(scratch);
    hz_free(dest);
    hz_ai_info_free(info);
    close(fd);
    return 0;
}
