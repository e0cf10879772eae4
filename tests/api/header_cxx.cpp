/*
 * The public header compiled as C++11 (-pedantic -Werror): extern "C" linkage,
 * no C-only constructs. Linking proves the names are not mangled.
 */
#include <pop3async/pop3async.h>

#include <cstdio>

static_assert(POP3A_OK == 0, "status values are stable");
static_assert(POP3A_CHUNK_PAUSE == 1, "chunk return values are stable");

namespace {

void on_done(pop3a_client *, pop3a_future *, void *) {}

int on_chunk(pop3a_client *, pop3a_future *, const char *, size_t, int, void *)
{
    return POP3A_CHUNK_CONTINUE;
}

} // namespace

int main()
{
    pop3a_done_cb done = on_done;
    pop3a_chunk_cb chunk = on_chunk;
    pop3a_options *opts = pop3a_options_new();
    if (!opts || !done || !chunk)
        return 1;
    int rc = pop3a_options_set_tls(opts, POP3A_TLS_NONE, nullptr);
    pop3a_options_free(opts);
    if (rc != 0)
        return 1;
    std::printf("%s\n", pop3a_status_name(POP3A_ERR_AUTH));
    return 0;
}
