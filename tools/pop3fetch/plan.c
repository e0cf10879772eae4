/* Message selection (plan.h). */
#include "plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* SHA-256 of "key\nuid", first 64 bits in hex: a server cannot aim a UIDL at
 * another account's tag, and two accounts sharing a Maildir never clash. */
static int make_tag(char out[STORE_TAG_LEN + 1], const char *key, const char *uid)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, key, strlen(key)) && EVP_DigestUpdate(ctx, "\n", 1) &&
             EVP_DigestUpdate(ctx, uid, strlen(uid)) && EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    for (int i = 0; i < STORE_TAG_LEN / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static int cmp_uid(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 when some unique-id appears twice. */
static int has_duplicates(const struct plan *p, int *oom)
{
    char **sorted = malloc((p->n ? p->n : 1) * sizeof *sorted);
    int dup = 0;
    if (!sorted) {
        *oom = 1;
        return 0;
    }
    for (size_t i = 0; i < p->n; i++)
        sorted[i] = p->items[i].uid;
    qsort(sorted, p->n, sizeof *sorted, cmp_uid);
    for (size_t i = 1; i < p->n && !dup; i++)
        dup = strcmp(sorted[i - 1], sorted[i]) == 0;
    free(sorted);
    return dup;
}

static void drop_uids(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].uid);
        p->items[i].uid = NULL;
        p->items[i].tag[0] = '\0';
    }
    p->by_number = 1;
}

const char *plan_listings(struct plan *p, const pop3a_future *list, const pop3a_future *uidl,
                          const char *key, int *oom)
{
    *oom = 0;
    p->n = pop3a_future_count(list);
    p->items = calloc(p->n ? p->n : 1, sizeof *p->items);
    if (!p->items)
        return *oom = 1, NULL;
    for (size_t i = 0; i < p->n; i++)
        pop3a_future_entry(list, i, &p->items[i].msg, &p->items[i].size, NULL);
    if (!uidl) {
        p->by_number = 1;
        return NULL;
    }
    const char *why = NULL;
    if (pop3a_future_count(uidl) != p->n)
        why = "the UIDL listing has another number of messages than LIST";
    for (size_t i = 0; i < p->n && !why; i++) {
        uint32_t msg;
        const char *uid;
        pop3a_future_entry(uidl, i, &msg, NULL, &uid);
        if (msg != p->items[i].msg)
            why = "the UIDL listing numbers messages unlike LIST";
        else if (!(p->items[i].uid = strdup(uid)) ||
                 make_tag(p->items[i].tag, key, uid) != 0)
            return drop_uids(p), *oom = 1, NULL;
    }
    if (!why && has_duplicates(p, oom))
        why = "the UIDL listing repeats a unique-id";
    if (why || *oom)
        drop_uids(p);
    return why;
}

int plan_select(struct plan *p, struct state *state, struct store *store, int all,
                int delete_after, char *err, size_t errsz)
{
    p->todo = malloc((p->n ? p->n : 1) * sizeof *p->todo);
    p->found = malloc((p->n ? p->n : 1) * sizeof *p->found);
    if (!p->todo || !p->found) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct item *it = &p->items[i];
        if (!p->by_number && !all) {
            int known = state_has(state, it->uid);
            if (known < 0) {
                snprintf(err, errsz, "%s", state_error(state));
                return -1;
            }
            if (known) {
                if (delete_after)
                    p->found[p->n_found++] = i;
                continue;
            }
            int there = store_has(store, it->tag);
            if (there < 0) {
                snprintf(err, errsz, "%s", store->err);
                return -1;
            }
            if (there) {
                p->found[p->n_found++] = i;
                continue;
            }
        }
        p->todo[p->n_todo++] = i;
        p->todo_bytes += it->size;
    }
    return 0;
}

void plan_free(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i].uid);
    free(p->items);
    free(p->todo);
    free(p->found);
    *p = (struct plan){0};
}
