/* UIDL state in SQLite (state.h). */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 5000

struct state {
    sqlite3 *db;
    sqlite3_stmt *has, *add;
    int lock_fd;
    char err[512];
};

static int make_parent_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    free(p);
    return 0;
}

char *state_default_path(const char *key)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[4096];
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/pop3fetch", xdg);
    else
        snprintf(dir, sizeof dir, "%s/.local/state/pop3fetch", home && home[0] ? home : "/");
    size_t n = strlen(dir) + strlen(key) + 16;
    char *path = malloc(n), *q;
    if (!path)
        return NULL;
    q = path + snprintf(path, n, "%s/", dir);
    /* user@host:port: keep it readable, but no '/' and no leading dot. */
    for (const char *k = key; *k; k++)
        *q++ = (*k == '/' || (k == key && *k == '.')) ? '_' : *k;
    strcpy(q, ".sqlite");
    return path;
}

static int fail_db(struct state *st, const char *what)
{
    snprintf(st->err, sizeof st->err, "%s: %s", what, st->db ? sqlite3_errmsg(st->db) : "");
    return -1;
}

static int exec(struct state *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "%s: %s", sql, msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* The lock is a separate file: SQLite's own locks are per transaction, and
 * flock is independent of the fcntl locks SQLite takes on the database. */
static int take_lock(struct state *st, const char *path, int *busy)
{
    size_t n = strlen(path) + 6;
    char *lock = malloc(n);
    if (!lock) {
        snprintf(st->err, sizeof st->err, "out of memory");
        return -1;
    }
    snprintf(lock, n, "%s.lock", path);
    st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (st->lock_fd < 0 || flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        *busy = st->lock_fd >= 0 && errno == EWOULDBLOCK;
        n = (size_t)snprintf(st->err, sizeof st->err, "%s: %s", lock,
                             *busy ? "another pop3fetch is fetching this account"
                                   : strerror(errno));
        free(lock);
        return -1;
    }
    free(lock);
    return 0;
}

struct state *state_open(const char *path, int *busy, char *err, size_t errsz)
{
    struct state *st = calloc(1, sizeof *st);
    *busy = 0;
    if (!st) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    st->lock_fd = -1;
    if (make_parent_dirs(path) != 0) {
        snprintf(st->err, sizeof st->err, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (take_lock(st, path, busy) != 0)
        goto fail;
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fail_db(st, path);
        goto fail;
    }
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    /* WAL with synchronous=FULL: a commit is durable when it returns (NORMAL
     * would lose the last commits on power loss, and a lost record means a
     * duplicate, or with --delete a message deleted but fetched again). */
    if (exec(st, "PRAGMA journal_mode=WAL") != 0 || exec(st, "PRAGMA synchronous=FULL") != 0 ||
        exec(st, "CREATE TABLE IF NOT EXISTS uidl (uid TEXT PRIMARY KEY NOT NULL, "
                 "fetched INTEGER NOT NULL) WITHOUT ROWID") != 0)
        goto fail;
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM uidl WHERE uid = ?", -1, &st->has, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "INSERT OR IGNORE INTO uidl (uid, fetched) VALUES (?, "
                           "strftime('%s','now'))",
                           -1, &st->add, NULL) != SQLITE_OK) {
        fail_db(st, "prepare");
        goto fail;
    }
    return st;
fail:
    snprintf(err, errsz, "state %s", st->err);
    state_close(st);
    return NULL;
}

int state_has(struct state *st, const char *uidl)
{
    sqlite3_reset(st->has);
    sqlite3_bind_text(st->has, 1, uidl, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st->has);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : fail_db(st, "state lookup");
}

int state_record(struct state *st, const char *const *uidls, size_t n)
{
    if (n == 0)
        return 0;
    if (exec(st, "BEGIN IMMEDIATE") != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st->add);
        sqlite3_bind_text(st->add, 1, uidls[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st->add) != SQLITE_DONE) {
            fail_db(st, "state insert");
            exec(st, "ROLLBACK");
            return -1;
        }
    }
    return exec(st, "COMMIT");
}

static int count_rows(struct state *st, long long *rows)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM uidl", -1, &q, NULL);
    if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        *rows = sqlite3_column_int64(q, 0);
    else
        rc = SQLITE_ERROR;
    sqlite3_finalize(q);
    return rc == SQLITE_OK ? 0 : fail_db(st, "state count");
}

int state_prune(struct state *st, const char *const *uidls, size_t n)
{
    long long rows = 0;
    sqlite3_stmt *add = NULL;
    if (count_rows(st, &rows) != 0)
        return -1;
    if (rows <= (long long)n) /* every row may still be on the server */
        return 0;
    if (exec(st, "BEGIN IMMEDIATE") != 0)
        return -1;
    if (exec(st, "CREATE TEMP TABLE IF NOT EXISTS listed (uid TEXT PRIMARY KEY NOT NULL) "
                 "WITHOUT ROWID") != 0 ||
        exec(st, "DELETE FROM listed") != 0)
        goto fail;
    if (sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO listed (uid) VALUES (?)", -1, &add,
                           NULL) != SQLITE_OK) {
        fail_db(st, "prepare");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(add);
        sqlite3_bind_text(add, 1, uidls[i], -1, SQLITE_STATIC);
        if (sqlite3_step(add) != SQLITE_DONE) {
            fail_db(st, "state prune");
            goto fail;
        }
    }
    sqlite3_finalize(add);
    add = NULL;
    if (exec(st, "DELETE FROM uidl WHERE uid NOT IN (SELECT uid FROM listed)") != 0)
        goto fail;
    return exec(st, "COMMIT");
fail:
    sqlite3_finalize(add);
    exec(st, "ROLLBACK");
    return -1;
}

const char *state_error(struct state *st)
{
    return st->err;
}

void state_close(struct state *st)
{
    if (!st)
        return;
    sqlite3_finalize(st->has);
    sqlite3_finalize(st->add);
    sqlite3_close(st->db);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* releases the flock */
    free(st);
}
