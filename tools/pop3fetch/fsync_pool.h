/*
 * Maildir commits (fsync the file in tmp/, close it, rename it into new/) on
 * worker threads, so one account's fsync does not stall every other account
 * on the event loop, and the file system can join concurrent fsyncs into one
 * journal commit.
 *
 * Each file still goes fsync -> rename in that order; the caller waits for a
 * group's commits (fsync_group_wait) before it fsyncs new/, records UIDLs or
 * sends DELE, so the durability order of store.h is unchanged.
 */
#ifndef POP3FETCH_FSYNC_POOL_H
#define POP3FETCH_FSYNC_POOL_H

#include <stddef.h>

/* The commits of one Maildir: the caller owns it, the pool only counts. */
struct fsync_group {
    unsigned in_flight;
    int err;          /* errno of the first failure since the last wait, or 0 */
    const char *what; /* "fsync" or "deliver into new/ of" */
    char err_name[256];
};

/* Takes a reference on the process's pool (starts its threads on the first);
 * -1 if threads cannot be started. */
int fsync_pool_ref(void);
/* Drops a reference; the last one stops and joins the threads. Every group
 * must have been waited for. */
void fsync_pool_unref(void);

/*
 * Queues fsync(fd), close(fd), renameat(from_dir, name, to_dir, name); on a
 * failure the worker closes fd and unlinks name from from_dir. Blocks while
 * the pool holds too many commits (bounds open files). The pool owns fd from
 * here on. -1 (fd closed, nothing queued) when out of memory.
 */
int fsync_pool_submit(struct fsync_group *g, int fd, int from_dir, int to_dir, const char *name);

/* 1 if one of g's commits has failed since the last wait (without waiting). */
int fsync_group_failed(struct fsync_group *g);

/* Waits until none of g's commits is in flight; 0, or -1 with errno set to
 * the first failure's and g->what/g->err_name saying which (then cleared). */
int fsync_group_wait(struct fsync_group *g);

#endif
