/* Futures: allocation, references, result storage and the public accessors. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "alloc.h"
#include "client_internal.h"

pop3a_future *pop3a_future_alloc(pop3a_client *c, const pop3a_op *op, pop3a_done_cb done,
                                 void *arg)
{
    pop3a_future *f = pop3a_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    if (op->state_size) {
        f->op_state = pop3a_calloc(1, op->state_size);
        if (!f->op_state) {
            pop3a_free(f);
            return NULL;
        }
    }
    f->refs = 1; /* the library's, dropped after the done callback */
    f->client = c;
    f->op = op;
    f->done_cb = done;
    f->arg = arg;
    pop3a_capa_init(&f->capa);
    return f;
}

static void future_destroy(pop3a_future *f)
{
    if (f->op->cleanup)
        f->op->cleanup(f);
    pop3a_free(f->op_state);
    if (f->line) {
        /* PASS and APOP lines hold secrets. */
        OPENSSL_cleanse(f->line, f->line_len);
        pop3a_free(f->line);
    }
    pop3a_free(f->trace_line);
    pop3a_free(f->text);
    pop3a_free(f->entries);
    pop3a_free(f->arena);
    pop3a_capa_clear(&f->capa);
    pop3a_free(f);
}

void pop3a_future_release(pop3a_future *f)
{
    if (f && --f->refs == 0)
        future_destroy(f);
}

int pop3a_future_set_text(pop3a_future *f, const char *text, size_t len)
{
    char *copy = pop3a_malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    pop3a_free(f->text);
    f->text = copy;
    f->text_is_ok_line = 0;
    return 0;
}

/* Grows *buf (elements of `size`) so that `need` fit, doubling. */
static int grow(void **buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            return -1;
        n *= 2;
    }
    void *p = pop3a_realloc(*buf, n * size);
    if (!p)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

int pop3a_future_add_entry(pop3a_future *f, uint32_t msg, uint64_t size, const char *uid,
                           size_t uid_len)
{
    void *entries = f->entries;
    if (grow(&entries, &f->cap_entries, f->n_entries + 1, sizeof *f->entries))
        return -1;
    f->entries = entries;
    pop3a_entry *e = &f->entries[f->n_entries];
    e->msg = msg;
    e->size = size;
    e->uid_off = UINT32_MAX;
    if (uid) {
        void *arena = f->arena;
        if (f->arena_len + uid_len + 1 > UINT32_MAX ||
            grow(&arena, &f->arena_cap, f->arena_len + uid_len + 1, 1))
            return -1;
        f->arena = arena;
        memcpy(f->arena + f->arena_len, uid, uid_len);
        f->arena[f->arena_len + uid_len] = '\0';
        e->uid_off = (uint32_t)f->arena_len;
        f->arena_len += uid_len + 1;
    }
    f->n_entries++;
    return 0;
}

/* ------------------------------------------------------------ public accessors */

POP3A_EXPORT pop3a_status pop3a_future_status(const pop3a_future *f)
{
    return f ? f->status : POP3A_ERR_INVALID;
}

POP3A_EXPORT int pop3a_future_is_done(const pop3a_future *f)
{
    return f && f->phase == POP3A_FUT_DONE;
}

POP3A_EXPORT const char *pop3a_future_text(const pop3a_future *f)
{
    return f && f->text ? f->text : "";
}

POP3A_EXPORT pop3a_resp_code pop3a_future_resp_code(const pop3a_future *f)
{
    return f ? f->resp_code : POP3A_RESP_NONE;
}

POP3A_EXPORT uint32_t pop3a_future_msg(const pop3a_future *f)
{
    return f ? f->msg : 0;
}

POP3A_EXPORT uint64_t pop3a_future_octets(const pop3a_future *f)
{
    return f ? f->octets : 0;
}

POP3A_EXPORT int pop3a_future_stat(const pop3a_future *f, uint32_t *count, uint64_t *octets)
{
    if (!f || !f->has_stat)
        return -1;
    if (count)
        *count = f->stat_count;
    if (octets)
        *octets = f->stat_octets;
    return 0;
}

POP3A_EXPORT size_t pop3a_future_count(const pop3a_future *f)
{
    return f ? f->n_entries : 0;
}

POP3A_EXPORT int pop3a_future_entry(const pop3a_future *f, size_t index, uint32_t *msg,
                                    uint64_t *size, const char **uid)
{
    if (!f || index >= f->n_entries)
        return -1;
    const pop3a_entry *e = &f->entries[index];
    if (msg)
        *msg = e->msg;
    if (size)
        *size = e->size;
    if (uid)
        *uid = e->uid_off == UINT32_MAX ? NULL : f->arena + e->uid_off;
    return 0;
}

POP3A_EXPORT const pop3a_capa *pop3a_future_capa(const pop3a_future *f)
{
    return f && f->has_capa ? &f->capa : NULL;
}

POP3A_EXPORT pop3a_client *pop3a_future_client(const pop3a_future *f)
{
    return f ? f->client : NULL;
}

POP3A_EXPORT pop3a_future *pop3a_future_ref(pop3a_future *f)
{
    if (f)
        f->refs++;
    return f;
}

POP3A_EXPORT void pop3a_future_unref(pop3a_future *f)
{
    pop3a_future_release(f);
}
