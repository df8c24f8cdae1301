/*
 * The database file before SQLite sees it. The store will hold secrets' ciphertext and key
 * hashes, so the directories we create are 0700 and the file (and its -wal/-shm/-journal
 * companions) 0600. A path that names something that is not a SQLite database must come out
 * untouched, contents and mode: we read its first bytes ourselves and refuse it before any
 * SQLite connection opens it. Only the 16-byte magic is judged here; the rest of the header is
 * left to SQLite, which refuses (NOTADB) on its first read without writing, and the modes of an
 * existing file are only tightened (hz_store_restrict_modes) once SQLite has accepted it.
 */
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char SQLITE_MAGIC[16] = "SQLite format 3";  /* 15 chars + NUL = the 16 bytes */

/* mkdir -p for the directory part of path. Only directories we create get 0700; existing ones
 * (/tmp, a user's home) are left as they are. */
static int make_parent_dirs(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;  /* relative to cwd, or directly under / */
    char *dir = hz_strndup(path, (size_t)(slash - path));
    int rc = 0;
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        struct stat st;
        if (stat(dir, &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                rc = hz_error_set(HZ_EIO, "cannot create the database in %s: %s is not a directory", path, dir);
                break;
            }
        } else if (errno != ENOENT) {
            rc = hz_error_errno(HZ_EIO, errno, "cannot create the database in %s: stat %s", path, dir);
            break;
        } else if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc = hz_error_errno(HZ_EIO, errno, "cannot create directory %s for the database", dir);
            break;
        } else if (chmod(dir, 0700) != 0) {  /* the umask may have taken bits we rely on */
            rc = hz_error_errno(HZ_EIO, errno, "cannot set mode 0700 on %s", dir);
            break;
        }
        if (saved == '\0') break;
        *p = saved;
    }
    hz_free(dir);
    return rc;
}

static void restrict_mode(const char *file) {
    struct stat st;
    if (stat(file, &st) != 0 || (st.st_mode & 0777) == 0600) return;
    if (chmod(file, 0600) != 0)
        hz_log_warn("store", "cannot set mode 0600 on %s (mode is %03o): %s", file,
                    (unsigned)(st.st_mode & 0777), strerror(errno));
}

/* Check an existing file without changing it: a regular file that is empty (SQLite will
 * initialise it) or starts with the SQLite magic. */
static int check_existing(const char *path, int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return hz_error_errno(HZ_EIO, errno, "stat %s", path);
    if (!S_ISREG(st.st_mode))
        return hz_error_set(HZ_EIO, "%s is not a regular file, cannot use it as the database", path);
    if (st.st_size == 0) return 0;
    char head[sizeof(SQLITE_MAGIC)];
    size_t got = 0;
    while (got < sizeof(head)) {
        ssize_t n = read(fd, head + got, sizeof(head) - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return hz_error_errno(HZ_EIO, errno, "read %s", path);
        if (n == 0) break;
        got += (size_t)n;
    }
    if (got < sizeof(head) || memcmp(head, SQLITE_MAGIC, sizeof(head)) != 0)
        return hz_error_set(HZ_EPARSE,
                            "%s is not a SQLite database (its first %zu bytes are not \"SQLite format 3\\0\"); "
                            "refusing to open it, the file was not modified",
                            path, sizeof(head));
    if (st.st_size < 100)
        return hz_error_set(HZ_EPARSE,
                            "%s is not a usable SQLite database: %lld bytes, shorter than the 100-byte header; "
                            "refusing to open it, the file was not modified",
                            path, (long long)st.st_size);
    return 0;
}

int hz_store_prepare_file(const char *path) {
    if (!path || !*path) return hz_error_set(HZ_EINVAL, "database path is empty");
    if (strcmp(path, ":memory:") == 0)
        return hz_error_set(HZ_EINVAL, "database path \":memory:\" is not supported: the store's connections must share one file");
    int rc = make_parent_dirs(path);
    if (rc) return rc;

    for (;;) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            rc = check_existing(path, fd);
            close(fd);
            if (rc) return rc;
            break;
        }
        if (errno != ENOENT) return hz_error_errno(HZ_EIO, errno, "cannot open database %s", path);
        /* O_EXCL: if another process creates it between our two opens, loop and check theirs. */
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            /* The umask may have taken bits SQLite needs (0400 would open read-only). */
            rc = fchmod(fd, 0600) == 0 ? 0 : hz_error_errno(HZ_EIO, errno, "cannot set mode 0600 on %s", path);
            close(fd);
            if (rc) return rc;
            break;
        }
        if (errno != EEXIST) return hz_error_errno(HZ_EIO, errno, "cannot create database %s", path);
    }

    return 0;
}

void hz_store_restrict_modes(const char *path) {
    restrict_mode(path);
    /* SQLite gives new companions the database's mode, but ones left by an older run (or by a
     * sqlite3 shell with another umask) keep theirs; they hold the same data. */
    static const char *const companions[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(companions) / sizeof(companions[0]); i++) {
        char *f = hz_sprintf("%s%s", path, companions[i]);
        restrict_mode(f);
        hz_free(f);
    }
}
