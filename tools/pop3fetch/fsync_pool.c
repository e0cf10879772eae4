/* Maildir commits on worker threads (fsync_pool.h). */
#include "fsync_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Enough fsyncs at once for the journal to batch them; few enough files open
 * (MAX_JOBS) to stay far below the usual 1024-descriptor limit next to
 * --jobs sockets. */
#define WORKERS 16
#define MAX_JOBS 128

struct job {
    struct job *next;
    struct fsync_group *group;
    int fd, from_dir, to_dir;
    char name[256];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or stop */
    pthread_cond_t done; /* a job finished: room in the queue, a group may be idle */
    pthread_t threads[WORKERS];
    struct job *head, *tail;
    unsigned jobs; /* queued + running */
    unsigned refs;
    int stop;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .work = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

/* Runs one commit without the lock; errno of the failure, or 0. */
static int commit(struct job *j, const char **what)
{
    int err = 0;
    *what = "fsync";
    if (fsync(j->fd) != 0)
        err = errno;
    if (close(j->fd) != 0 && !err) {
        err = errno;
        *what = "close";
    }
    if (!err && renameat(j->from_dir, j->name, j->to_dir, j->name) != 0) {
        err = errno;
        *what = "deliver into new/ of";
    }
    if (err)
        unlinkat(j->from_dir, j->name, 0);
    return err;
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (!pool.head && !pool.stop)
            pthread_cond_wait(&pool.work, &pool.lock);
        if (!pool.head)
            break;
        struct job *j = pool.head;
        if (!(pool.head = j->next))
            pool.tail = NULL;
        pthread_mutex_unlock(&pool.lock);
        const char *what;
        int err = commit(j, &what);
        pthread_mutex_lock(&pool.lock);
        struct fsync_group *g = j->group;
        if (err && !g->err) {
            g->err = err;
            g->what = what;
            snprintf(g->err_name, sizeof g->err_name, "%s", j->name);
        }
        g->in_flight--;
        pool.jobs--;
        free(j);
        pthread_cond_broadcast(&pool.done);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

static void stop_workers(unsigned n)
{
    pthread_mutex_lock(&pool.lock);
    pool.stop = 1;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.lock);
    for (unsigned i = 0; i < n; i++)
        pthread_join(pool.threads[i], NULL);
    pool.stop = 0;
}

int fsync_pool_ref(void)
{
    /* Only the event-loop thread opens and closes stores: refs needs no lock. */
    if (pool.refs++ > 0)
        return 0;
    /* Workers block every signal: the daemon's SIGTERM/SIGHUP belong to the loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (unsigned i = 0; i < WORKERS && rc == 0; i++) {
        if (pthread_create(&pool.threads[i], NULL, worker, NULL) != 0) {
            stop_workers(i);
            pool.refs = 0;
            rc = -1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void fsync_pool_unref(void)
{
    if (pool.refs > 0 && --pool.refs == 0)
        stop_workers(WORKERS);
}

int fsync_pool_submit(struct fsync_group *g, int fd, int from_dir, int to_dir, const char *name)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        close(fd);
        unlinkat(from_dir, name, 0);
        errno = ENOMEM;
        return -1;
    }
    j->group = g;
    j->fd = fd;
    j->from_dir = from_dir;
    j->to_dir = to_dir;
    snprintf(j->name, sizeof j->name, "%s", name);
    pthread_mutex_lock(&pool.lock);
    while (pool.jobs >= MAX_JOBS)
        pthread_cond_wait(&pool.done, &pool.lock);
    if (pool.tail)
        pool.tail->next = j;
    else
        pool.head = j;
    pool.tail = j;
    pool.jobs++;
    g->in_flight++;
    pthread_cond_signal(&pool.work);
    pthread_mutex_unlock(&pool.lock);
    return 0;
}

int fsync_group_failed(struct fsync_group *g)
{
    pthread_mutex_lock(&pool.lock);
    int failed = g->err != 0;
    pthread_mutex_unlock(&pool.lock);
    return failed;
}

int fsync_group_wait(struct fsync_group *g)
{
    pthread_mutex_lock(&pool.lock);
    while (g->in_flight > 0)
        pthread_cond_wait(&pool.done, &pool.lock);
    int err = g->err;
    g->err = 0;
    pthread_mutex_unlock(&pool.lock);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
