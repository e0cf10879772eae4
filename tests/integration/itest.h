/*
 * Shared helpers of the Dovecot integration suite (README.md beside this file):
 * where the server is (environment written by dovecot-env, or POP3A_TEST_SERVER),
 * the fill manifests, a session wrapper that runs one command at a time to
 * completion, a trace recorder and a growable byte buffer.
 *
 * Every wait is bounded: a hang is reported as a failure, never a stuck CI job.
 */
#ifndef POP3A_ITEST_H
#define POP3A_ITEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

#include <pop3async/pop3async.h>

struct event_base;

/* One wait for one reply; the 50 MiB message stays well inside it. */
#define IT_WAIT_MS 60000u

/* ---------------------------------------------------------------- config */

typedef struct {
    int external; /* POP3A_TEST_SERVER is set: no manifests, no harness users */

    /* Dovecot started by run-suite (POP3A_DOVECOT_*) */
    char host[64];  /* 127.0.0.1 */
    char host6[64]; /* ::1, or "" without an IPv6 loopback */
    uint16_t port;  /* POP3 with STLS */
    uint16_t tls_port; /* POP3S */
    char ca[512];
    char oauth_token[2048]; /* valid JWT for alice */
    char manifest_dir[512];
    char locked_user[32]; /* user with pop3_lock_session=yes, or "" */

    /* POP3A_TEST_SERVER mode */
    char ext_host[256];
    uint16_t ext_port;
    pop3a_tls_mode ext_tls;
    char ext_user[256];
    char ext_password[256];
    char ext_ca[512]; /* "" = system trust store */
} it_config;

/* Reads the environment; prints what is missing and exits 77 (skip) when neither
 * mode is configured. Call once from main before running the suites. */
void it_config_load(void);
const it_config *it_cfg(void);

/* -------------------------------------------------------------- manifest */

typedef struct {
    uint32_t index;
    uint64_t octets;
    char uidl[128];
    char path[512]; /* the message as RETR delivers it after unstuffing */
} it_msg;

typedef struct {
    it_msg *msgs;
    size_t n;
    uint64_t total; /* sum of octets */
} it_manifest;

/* Loads BASE/manifest-USER.tsv (ck_abort on failure). */
void it_manifest_load(const char *user, it_manifest *m);
void it_manifest_free(it_manifest *m);
/* Whole file into a malloc'd buffer (ck_abort on failure). */
char *it_read_file(const char *path, size_t *len);

/* ---------------------------------------------------------------- buffer */

typedef struct {
    char *p;
    size_t len, cap;
} it_buf;

void it_buf_add(it_buf *b, const void *data, size_t len);
void it_buf_free(it_buf *b);
/* 1 when b holds exactly want[0..len). */
int it_buf_equals(const it_buf *b, const char *want, size_t len);

/* ----------------------------------------------------------------- trace */

/* Every trace line as "> sent", "< received" or "* info", each ending in '\n'. */
typedef struct {
    it_buf log;
    int sent;
} it_trace;

void it_trace_cb(pop3a_client *client, pop3a_trace_dir dir, const char *line, size_t len,
                 void *arg);
int it_trace_has(const it_trace *t, const char *needle);
/* Number of sent lines that start with `prefix` (e.g. "AUTH SCRAM-SHA-256"). */
int it_trace_sent_count(const it_trace *t, const char *prefix);
/* NUL-terminated view of the log, for failure messages. */
const char *it_trace_text(it_trace *t);

/* --------------------------------------------------------------- session */

typedef struct {
    struct event_base *base;
    int own_base;
    pop3a_options *opts; /* owned; trace goes to `trace` */
    pop3a_client *client;
    it_trace trace;

    /* the one command in flight (it_run) */
    int done;
    pop3a_future *last; /* ref'd result of the last it_run; released by the next */
    it_buf body;        /* chunks of the last RETR/TOP */
    int finals;         /* chunk calls with final = 1 */
} it_session;

/* Options for the harness server: `mode`, the generated CA (for TLS modes),
 * timeouts 10 s connect / 30 s idle, trace into s->trace. base NULL = own base. */
void it_session_init(it_session *s, struct event_base *base, pop3a_tls_mode mode);
/* Makes the client from s->opts (after the test tuned them). */
void it_session_start(it_session *s);
void it_session_free(it_session *s);

/* Callbacks for it_run: arg is the it_session. */
void it_done(pop3a_client *client, pop3a_future *future, void *arg);
int it_chunk(pop3a_client *client, pop3a_future *future, const char *data, size_t len,
             int final, void *arg);

/* Waits for the future `submitted` (which must use it_done/it_chunk with arg s)
 * and returns it; it stays valid until the next it_run or it_session_free. A NULL
 * submit fails the test with the client's error. */
pop3a_future *it_run(it_session *s, pop3a_future *submitted);

/* Shorthands; each returns the status and keeps the future in s->last. */
pop3a_status it_connect(it_session *s, const char *host, uint16_t port);
pop3a_status it_login(it_session *s, const char *user, const char *secret, unsigned mechs);
pop3a_status it_quit(it_session *s);

/* Bounded loop: 0 when *flag became non-zero, -1 after timeout_ms. */
int it_loop_until(struct event_base *base, const int *flag, unsigned timeout_ms);

#define IT_ASSERT_STATUS(fut, want)                                                         \
    ck_assert_msg(pop3a_future_status(fut) == (want), "%s: %s (\"%s\"), want %s", #fut,     \
                  pop3a_status_name(pop3a_future_status(fut)), pop3a_future_text(fut),      \
                  pop3a_status_name(want))

/* Expected TOP output: headers, the blank line, then the first `lines` body lines
 * (RFC 1939 section 7). Returns a malloc'd buffer. */
char *it_expected_top(const char *msg, size_t len, uint32_t lines, size_t *out_len);

/* Description of the first difference between got and want, into out. */
void it_describe_diff(char *out, size_t outsz, const char *got, size_t got_len,
                      const char *want, size_t want_len);

/* --------------------------------------------------- tools run as children */

/* Runs argv (argv[0] a path) with stdin /dev/null and stdout/stderr into
 * DIR/stdout and DIR/stderr; returns its exit status, or -1 when it died of
 * a signal or was killed after wait_s seconds. */
int it_run_child(const char *const *argv, const char *dir, unsigned wait_s);
/* it_run_child in two halves, for a test that acts on the child while it
 * runs (signals): the spawn, then the wait (same return as it_run_child). */
pid_t it_spawn_child(const char *const *argv, const char *dir);
int it_wait_child(pid_t pid, unsigned wait_s);
/* rm -r DIR. */
void it_remove_tree(const char *dir);
/* STAT count of a harness user's maildrop (a session over verified STLS). */
uint32_t it_messages_on_server(const char *user, const char *password);

/* ---------------------------------------------------------------- suites */

Suite *it_suite_login(void);
Suite *it_suite_mailbox(void);
Suite *it_suite_tls(void);
Suite *it_suite_load(void);
Suite *it_suite_fetch_all(void);
Suite *it_suite_external(void);
Suite *it_suite_proxy(void);

/* 1 when a socket can be bound to [::1] on this machine. */
int it_machine_has_ipv6_loopback(void);

#endif
