/*
 * The login op: choose the strongest mechanism the server offers and the caller
 * allows, try it, and fall back down the list while the server refuses
 * (RFC 1939 s7 USER/PASS and APOP, RFC 5034 AUTH).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "alloc.h"
#include "apop.h"
#include "base64.h"
#include "capa.h"
#include "client_internal.h"
#include "sasl.h"
#include "session.h"
#include "tls.h"

enum { TAG_USER = 1, TAG_PASS, TAG_APOP, TAG_AUTH };

/* The login op's own state (f->op_state). */
typedef struct {
    char *user;
    char *secret;        /* password or OAuth token; wiped before free */
    unsigned requested;  /* the caller's POP3A_MECH_* mask, 0 = default set */
    unsigned candidates; /* POP3A_MECH_* still to try */
    unsigned current;    /* the mechanism being tried */
    int oauth;
    int pass_pipelined;  /* USER/PASS: PASS written right after USER */
    int user_failed;     /* USER refused while PASS's reply is still owed */
    int sasl_error;      /* we cancelled the exchange with "*" */
    unsigned challenges; /* server challenges seen in this mechanism */
    int started_any;     /* some mechanism went out to the server */
    int crypto_missing;  /* some mechanism was skipped: local crypto cannot do it */
    pop3a_sasl *sasl;
    char *pending_ir;    /* base64 initial response too long for the AUTH line */
    size_t pending_ir_len;
} login_state;

static login_state *state_of(pop3a_future *f)
{
    return f->op_state;
}

/* Strongest first (issue 3): mechanisms that never expose the password, then
 * the ones that do, which the cleartext policy may rule out. */
static const unsigned password_order[] = {
    POP3A_MECH_EXTERNAL, POP3A_MECH_SCRAM_SHA_256, POP3A_MECH_SCRAM_SHA_1, POP3A_MECH_CRAM_MD5,
    POP3A_MECH_APOP,     POP3A_MECH_PLAIN,         POP3A_MECH_LOGIN,       POP3A_MECH_USER,
};
static const unsigned oauth_order[] = {POP3A_MECH_OAUTHBEARER, POP3A_MECH_XOAUTH2};

#define PASSWORD_MECHS                                                                            \
    (POP3A_MECH_USER | POP3A_MECH_APOP | POP3A_MECH_PLAIN | POP3A_MECH_LOGIN |                    \
     POP3A_MECH_CRAM_MD5 | POP3A_MECH_SCRAM_SHA_1 | POP3A_MECH_SCRAM_SHA_256 | POP3A_MECH_EXTERNAL)
#define OAUTH_MECHS (POP3A_MECH_XOAUTH2 | POP3A_MECH_OAUTHBEARER)
/* Used only when asked for by name: it needs a client certificate. */
#define DEFAULT_PASSWORD_MECHS (PASSWORD_MECHS & ~POP3A_MECH_EXTERNAL)

static int is_cleartext(unsigned mech)
{
    return mech == POP3A_MECH_USER || pop3a_sasl_is_cleartext(mech);
}

/* What the server offers: CAPA's SASL list and USER, APOP when the greeting had
 * a timestamp; a server without CAPA (plain RFC 1939) is assumed to take USER. */
static unsigned offered_mechs(const pop3a_client *c)
{
    unsigned offered = c->capa.mechs;
    if (c->tls_up) /* -PLUS alone is enough when we can bind to the TLS channel */
        offered |= c->capa.plus_mechs;
    if (c->apop_ts)
        offered |= POP3A_MECH_APOP;
    if (c->capa.flags == 0)
        offered |= POP3A_MECH_USER;
    return offered;
}

static int login_fail(pop3a_client *c, pop3a_future *f, pop3a_status st, const char *why)
{
    if (why && !f->text)
        pop3a_future_set_text(f, why, strlen(why));
    return pop3a_complete(c, f, st);
}

/* The server failed a check of ours (SCRAM: its proof or nonce): it may be an
 * impostor, so nothing weaker is tried on this connection. The login future
 * reports why; everything else pending learns the connection is gone. */
static int login_fail_untrusted(pop3a_client *c, pop3a_future *f, const char *why)
{
    pop3a_future_set_text(f, why, strlen(why));
    if (pop3a_complete(c, f, POP3A_ERR_AUTH) < 0)
        return -1;
    pop3a_fail_connection(c, POP3A_ERR_CLOSED,
                          "connection dropped: the server failed SASL verification");
    return -1;
}

static int login_ok(pop3a_client *c, pop3a_future *f, const pop3a_pev *ev)
{
    pop3a_future_set_text(f, ev->data, ev->len);
    f->resp_code = ev->code;
    c->state = POP3A_ST_TRANSACTION;
    return pop3a_complete(c, f, POP3A_OK);
}

static int write_sasl_response(pop3a_client *c, pop3a_future *f, const unsigned char *data,
                               size_t len, int cancel)
{
    /* RFC 5034 s4: responses are not bound by the 255-octet command limit, so
     * they bypass pop3a_cmd_format (OAuth tokens are long). */
    size_t b64_len = 0;
    char *b64 = cancel ? pop3a_strdup("*") : pop3a_b64_encode(data, len, &b64_len);
    if (!b64)
        return -1;
    if (cancel)
        b64_len = 1;
    char *line = pop3a_malloc(b64_len + 3);
    if (!line) {
        pop3a_free(b64);
        return -1;
    }
    memcpy(line, b64, b64_len);
    memcpy(line + b64_len, "\r\n", 3);
    int rc = pop3a_write_line(c, f, line, b64_len + 2, cancel ? "*" : "****", POP3A_EXPECT_SASL,
                              TAG_AUTH);
    OPENSSL_cleanse(line, b64_len + 2);
    OPENSSL_cleanse(b64, b64_len);
    pop3a_free(line);
    pop3a_free(b64);
    return rc;
}

/* SCRAM channel binding (RFC 5802 s6, RFC 9266): bind to this TLS connection
 * when the server offers -PLUS; on TLS without -PLUS send "y" so a stripped
 * -PLUS is detected by the server. */
static pop3a_sasl *new_sasl(pop3a_client *c, login_state *ls, unsigned mech)
{
    int scram = mech == POP3A_MECH_SCRAM_SHA_1 || mech == POP3A_MECH_SCRAM_SHA_256;
    if (!scram || !c->tls_up || !c->ssl)
        return pop3a_sasl_new(mech, ls->user, ls->secret, NULL, NULL);
    pop3a_sasl_cb cb = {NULL, NULL, 0};
    unsigned char data[EVP_MAX_MD_SIZE];
    if (c->capa.plus_mechs & mech) {
        cb.type = SSL_version(c->ssl) >= TLS1_3_VERSION ? "tls-exporter" : "tls-server-end-point";
        cb.len = pop3a_tls_channel_binding(c->ssl, cb.type, data, sizeof data);
        cb.data = data;
        if (cb.len == 0)
            cb.type = NULL;
    }
    return pop3a_sasl_new(mech, ls->user, ls->secret, &cb, NULL);
}

/* How starting a mechanism went: each outcome its own value, so that "cannot
 * do it here" never reads as "out of memory". */
typedef enum {
    MECH_STARTED = 0, /* its first line is written */
    MECH_UNFIT,       /* the credentials cannot be said in it (too long, syntax) */
    MECH_UNAVAILABLE, /* the local crypto cannot do it (MD5 under a FIPS provider) */
    MECH_NOMEM
} mech_rc;

/* pop3a_write_cmd's result: 0 written, -2 a bad argument, else no memory. */
static mech_rc written(int rc)
{
    return rc == 0 ? MECH_STARTED : rc == -2 ? MECH_UNFIT : MECH_NOMEM;
}

/* MD5 (APOP, and CRAM-MD5's HMAC) may be missing: a FIPS-only provider
 * configuration has none. Asked before anything is sent, so such a mechanism
 * is skipped without a round trip. */
static int md5_available(void)
{
    EVP_MD *md = EVP_MD_fetch(NULL, "MD5", NULL);
    EVP_MD_free(md);
    ERR_clear_error(); /* a failed fetch queues an error: not ours to report */
    return md != NULL;
}

static mech_rc start_sasl(pop3a_client *c, pop3a_future *f, unsigned mech)
{
    login_state *ls = state_of(f);
    if (mech == POP3A_MECH_CRAM_MD5 && !md5_available())
        return MECH_UNAVAILABLE;
    ls->sasl = new_sasl(c, ls, mech);
    if (!ls->sasl)
        return MECH_NOMEM;
    pop3a_sasl_set_max_iterations(ls->sasl, c->opts.scram_max_iterations);
    const char *name = pop3a_sasl_mech_name(ls->sasl);
    if (!pop3a_sasl_client_first(ls->sasl)) {
        const char *args[] = {name};
        return written(pop3a_write_cmd(c, f, POP3A_CMD_AUTH, args, 1, TAG_AUTH));
    }
    unsigned char *ir = NULL;
    size_t ir_len = 0;
    pop3a_sasl_rc src = pop3a_sasl_start(ls->sasl, &ir, &ir_len);
    if (src == POP3A_SASL_ERROR)
        return MECH_UNFIT; /* these credentials cannot be said in this mechanism */
    if (src != POP3A_SASL_CONTINUE)
        return MECH_NOMEM;
    size_t b64_len = 0;
    char *b64 = ir_len ? pop3a_b64_encode(ir, ir_len, &b64_len) : pop3a_strdup("=");
    pop3a_sasl_response_free(ir, ir_len);
    if (!b64)
        return MECH_NOMEM;
    const char *args[] = {name, b64};
    int rc = pop3a_write_cmd(c, f, POP3A_CMD_AUTH, args, 2, TAG_AUTH);
    if (rc == -2) {
        /* Too long for an initial response (RFC 5034 s4): send AUTH alone and
         * answer the server's empty challenge with it. */
        ls->pending_ir = b64;
        ls->pending_ir_len = b64_len;
        return written(pop3a_write_cmd(c, f, POP3A_CMD_AUTH, args, 1, TAG_AUTH));
    }
    OPENSSL_cleanse(b64, strlen(b64));
    pop3a_free(b64);
    return written(rc);
}

static mech_rc start_mech(pop3a_client *c, pop3a_future *f, unsigned mech)
{
    login_state *ls = state_of(f);
    ls->current = mech;
    ls->challenges = 0;
    ls->sasl_error = 0;
    ls->user_failed = 0;
    ls->pass_pipelined = 0;
    if (mech == POP3A_MECH_USER) {
        /* PASS must fit on its line (RFC 2449 s4) before USER goes out: a USER
         * whose PASS cannot follow would leave a reply owed to this op. */
        char pass_line[POP3A_CMD_LINE_MAX + 1];
        const char *p[] = {ls->secret};
        int pass_fits = pop3a_cmd_format(pass_line, POP3A_CMD_PASS, p, 1) >= 0;
        OPENSSL_cleanse(pass_line, sizeof pass_line);
        if (!pass_fits)
            return MECH_UNFIT;
        const char *u[] = {ls->user};
        int rc = pop3a_write_cmd(c, f, POP3A_CMD_USER, u, 1, TAG_USER);
        if (rc != 0)
            return written(rc); /* UNFIT: a user name too long for the line */
        /* RFC 2449 s6.6: with PIPELINING, PASS need not wait for USER's reply:
         * one round trip less per session. A window of 1 turns that off too. */
        if ((c->capa.flags & POP3A_CAPA_PIPELINING) && c->opts.pipeline_window > 1) {
            ls->pass_pipelined = 1;
            return written(pop3a_write_cmd(c, f, POP3A_CMD_PASS, p, 1, TAG_PASS));
        }
        return MECH_STARTED;
    }
    if (mech == POP3A_MECH_APOP) {
        char hex[33];
        /* Its arguments are all set here: a failure is MD5 itself missing, or
         * no memory for the digest. */
        int drc = pop3a_apop_digest(c->apop_ts, strlen(c->apop_ts), ls->secret, hex);
        if (drc != 0)
            return drc == -2 ? MECH_NOMEM : MECH_UNAVAILABLE;
        const char *a[] = {ls->user, hex};
        mech_rc rc = written(pop3a_write_cmd(c, f, POP3A_CMD_APOP, a, 2, TAG_APOP));
        OPENSSL_cleanse(hex, sizeof hex);
        return rc;
    }
    return start_sasl(c, f, mech);
}

/* Ends the mechanism being tried: nothing of it (its SASL state, an initial
 * response still waiting for the server's empty challenge) may reach the next
 * one, and every secret it held is wiped. */
static void end_mech(login_state *ls)
{
    pop3a_sasl_free(ls->sasl); /* wipes its copy of the secret */
    ls->sasl = NULL;
    if (ls->pending_ir) {
        OPENSSL_cleanse(ls->pending_ir, ls->pending_ir_len);
        pop3a_free(ls->pending_ir);
        ls->pending_ir = NULL;
        ls->pending_ir_len = 0;
    }
}

/* Next candidate, or the final failure. */
static int try_next(pop3a_client *c, pop3a_future *f)
{
    login_state *ls = state_of(f);
    end_mech(ls);
    const unsigned *order = ls->oauth ? oauth_order : password_order;
    size_t n = ls->oauth ? sizeof oauth_order / sizeof *oauth_order
                         : sizeof password_order / sizeof *password_order;
    for (size_t i = 0; i < n; i++) {
        unsigned mech = order[i];
        if (!(ls->candidates & mech))
            continue;
        ls->candidates &= ~mech;
        switch (start_mech(c, f, mech)) {
        case MECH_STARTED:
            ls->started_any = 1;
            return 0;
        case MECH_UNFIT:
            continue; /* the user name does not fit this mechanism's syntax */
        case MECH_UNAVAILABLE:
            ls->crypto_missing = 1;
            continue;
        case MECH_NOMEM:
            break;
        }
        pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
        return -1;
    }
    if (!ls->started_any && ls->crypto_missing)
        return login_fail(c, f, POP3A_ERR_UNSUPPORTED,
                          "the local crypto library cannot do the permitted login mechanisms "
                          "(MD5 unavailable?)");
    return login_fail(c, f, POP3A_ERR_AUTH, "every permitted login mechanism was refused");
}

/* A refusal: remember the server's words, and fall back unless the reason is not
 * about the credentials (RFC 2449 s8, RFC 3206): a locked maildrop, a login delay
 * or a server failure would refuse every mechanism alike. */
static int refused_keep_text(pop3a_client *c, pop3a_future *f, pop3a_resp_code code)
{
    switch (code) {
    case POP3A_RESP_IN_USE:
    case POP3A_RESP_LOGIN_DELAY:
    case POP3A_RESP_SYS_TEMP:
    case POP3A_RESP_SYS_PERM:
        return pop3a_complete(c, f, POP3A_ERR_AUTH);
    default:
        return try_next(c, f);
    }
}

static int refused(pop3a_client *c, pop3a_future *f, const pop3a_pev *ev)
{
    pop3a_future_set_text(f, ev->data, ev->len);
    f->resp_code = ev->code;
    return refused_keep_text(c, f, ev->code);
}

static int on_sasl_challenge(pop3a_client *c, pop3a_future *f, const pop3a_pev *ev)
{
    login_state *ls = state_of(f);
    if (ls->pending_ir) {
        /* The initial response that did not fit on the AUTH line. */
        char *ir = ls->pending_ir;
        size_t len = ls->pending_ir_len;
        ls->pending_ir = NULL;
        size_t raw_len = 0;
        unsigned char *raw = pop3a_b64_decode(ir, len, &raw_len);
        OPENSSL_cleanse(ir, len);
        pop3a_free(ir);
        if (!raw)
            return -1;
        int rc = write_sasl_response(c, f, raw, raw_len, 0);
        OPENSSL_cleanse(raw, raw_len);
        pop3a_free(raw);
        return rc;
    }
    size_t in_len = 0;
    unsigned char *in = pop3a_b64_decode(ev->data, ev->len, &in_len);
    if (!in && pop3a_b64_valid(ev->data, ev->len))
        return -1; /* out of memory, not a bad challenge to cancel */
    unsigned char *out = NULL;
    size_t out_len = 0;
    pop3a_sasl_rc rc = in ? pop3a_sasl_step(ls->sasl, in, in_len, &out, &out_len)
                          : POP3A_SASL_ERROR;
    pop3a_free(in);
    if (rc == POP3A_SASL_NOMEM)
        return -1;
    if (rc != POP3A_SASL_CONTINUE) {
        /* RFC 5034 s4: "*" cancels; the server then answers -ERR. */
        ls->sasl_error = 1;
        return write_sasl_response(c, f, NULL, 0, 1);
    }
    int wrc = write_sasl_response(c, f, out, out_len, 0);
    pop3a_sasl_response_free(out, out_len);
    return wrc;
}

static int on_auth_reply(pop3a_client *c, pop3a_future *f, const pop3a_pev *ev)
{
    login_state *ls = state_of(f);
    if (ev->kind == POP3A_PEV_CONTINUE) {
        if (ls->sasl_error) {
            /* RFC 5034 s4: "*" is answered with -ERR. Answering more challenges
             * could go on for ever, a complete reply each time (no timeout). */
            pop3a_fail_connection(c, POP3A_ERR_PROTOCOL,
                                  "SASL challenge after the client cancelled the exchange");
            return -1;
        }
        ls->challenges++;
        if (on_sasl_challenge(c, f, ev) != 0) {
            pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
            return -1;
        }
        return 0;
    }
    if (ev->kind == POP3A_PEV_OK) {
        if (pop3a_sasl_finish(ls->sasl) != 0) {
            /* Accepted without proving it knows the password (SCRAM v=). */
            const char *why = pop3a_sasl_error(ls->sasl);
            return login_fail_untrusted(c, f, why && *why ? why
                                                          : "the server's SASL proof is missing");
        }
        return login_ok(c, f, ev);
    }
    const char *detail = ls->sasl ? pop3a_sasl_error(ls->sasl) : "";
    /* SCRAM's second challenge carries the server's proof (v=): failing it
     * means the server may be an impostor. An earlier malformed challenge is
     * only a refusal, and the next mechanism may be tried. */
    int scram = ls->current == POP3A_MECH_SCRAM_SHA_1 || ls->current == POP3A_MECH_SCRAM_SHA_256;
    if (ls->sasl_error && scram && ls->challenges >= 2)
        return login_fail_untrusted(c, f, detail && *detail ? detail
                                                            : "the server's SASL proof did not verify");
    if (detail && *detail) {
        /* Our own check failed, or an OAuth server explained itself in JSON
         * (RFC 7628 s3.2.2): keep that next to the server's -ERR text. */
        size_t n = ev->len + strlen(detail) + 4;
        char *text = pop3a_malloc(n);
        if (text) {
            snprintf(text, n, "%.*s (%s)", (int)ev->len, ev->data, detail);
            pop3a_future_set_text(f, text, strlen(text));
            pop3a_free(text);
        }
        f->resp_code = ev->code;
        return ls->sasl_error ? try_next(c, f) : refused_keep_text(c, f, ev->code);
    }
    return refused(c, f, ev);
}

static int login_on_reply(pop3a_client *c, pop3a_future *f, int tag, const pop3a_pev *ev,
                          int reply_done)
{
    (void)reply_done; /* status lines and SASL challenges only: each is whole */
    login_state *ls = state_of(f);
    if (f->cancelled) {
        /* Cancelled while a reply was owed: send nothing more (no PASS after
         * USER's +OK, no SASL response) and drop the connection, as pop3a_pump
         * does when it sees the cancel first. */
        pop3a_fail_connection(c, POP3A_ERR_CLOSED, "login cancelled");
        return -1;
    }
    if (tag != TAG_AUTH && ev->kind == POP3A_PEV_CONTINUE) {
        pop3a_fail_connection(c, POP3A_ERR_PROTOCOL, "unexpected SASL continuation");
        return -1;
    }
    switch (tag) {
    case TAG_USER:
        if (ev->kind != POP3A_PEV_OK) {
            if (ls->pass_pipelined) {
                ls->user_failed = 1; /* PASS's reply is still owed: wait for it */
                pop3a_future_set_text(f, ev->data, ev->len);
                f->resp_code = ev->code;
                return 0;
            }
            return refused(c, f, ev);
        }
        if (!ls->pass_pipelined) {
            const char *p[] = {ls->secret};
            if (pop3a_write_cmd(c, f, POP3A_CMD_PASS, p, 1, TAG_PASS) != 0) {
                pop3a_fail_connection(c, POP3A_ERR_NOMEM, "out of memory");
                return -1;
            }
        }
        return 0;
    case TAG_PASS:
        if (ls->user_failed) {
            /* USER was refused; whatever PASS got, this mechanism failed. */
            ls->user_failed = 0;
            if (ev->kind == POP3A_PEV_OK) {
                pop3a_fail_connection(c, POP3A_ERR_PROTOCOL, "PASS accepted after USER was refused");
                return -1;
            }
            return try_next(c, f);
        }
        return ev->kind == POP3A_PEV_OK ? login_ok(c, f, ev) : refused(c, f, ev);
    case TAG_APOP:
        return ev->kind == POP3A_PEV_OK ? login_ok(c, f, ev) : refused(c, f, ev);
    case TAG_AUTH:
        return on_auth_reply(c, f, ev);
    }
    return 0;
}

static pop3a_status login_may_start(const pop3a_client *c, const pop3a_future *f)
{
    (void)f;
    return c->state == POP3A_ST_AUTHORIZATION ? POP3A_OK : POP3A_ERR_STATE;
}

static void login_start(pop3a_client *c, pop3a_future *f)
{
    login_state *ls = state_of(f);
    unsigned offered = offered_mechs(c);
    unsigned wanted = ls->requested ? ls->requested
                                    : (ls->oauth ? OAUTH_MECHS : DEFAULT_PASSWORD_MECHS);
    unsigned cand = offered & wanted;
    unsigned dropped = 0;
    if (!c->tls_up && !c->opts.allow_cleartext) {
        for (unsigned bit = 1; bit && bit <= POP3A_MECH_EXTERNAL; bit <<= 1)
            if ((cand & bit) && is_cleartext(bit))
                dropped |= bit;
        cand &= ~dropped;
    }
    ls->candidates = cand;
    if (!cand) {
        if (dropped) {
            login_fail(c, f, POP3A_ERR_CLEARTEXT,
                       "the only mechanisms available would send the password unencrypted");
        } else {
            login_fail(c, f, POP3A_ERR_UNSUPPORTED,
                       "the server offers none of the permitted login mechanisms");
        }
        return;
    }
    try_next(c, f);
}

static void login_cleanup(pop3a_future *f)
{
    login_state *ls = state_of(f);
    if (ls->secret) {
        OPENSSL_cleanse(ls->secret, strlen(ls->secret));
        pop3a_free(ls->secret);
        ls->secret = NULL;
    }
    end_mech(ls);
    pop3a_free(ls->user);
    ls->user = NULL;
}

static const pop3a_op login_op = {
    .name = "login",
    .state_size = sizeof(login_state),
    .multi_step = 1,
    .may_start = login_may_start,
    .start = login_start,
    .on_reply = login_on_reply,
    .cleanup = login_cleanup,
};

/* ------------------------------------------------------------- public */

static pop3a_future *submit_login(pop3a_client *c, const char *user, const char *secret,
                                  unsigned mechs, int oauth, pop3a_done_cb done, void *arg)
{
    if (!pop3a_may_submit(c))
        return NULL;
    unsigned allowed = oauth ? OAUTH_MECHS : PASSWORD_MECHS;
    /* EXTERNAL alone may go without a user: "AUTH EXTERNAL =" means "who my
     * certificate says" (RFC 4422 appendix A, RFC 5034 s4). */
    int user_optional = mechs == POP3A_MECH_EXTERNAL;
    if (!user || !secret || pop3a_arg_ok(user) != 0 || pop3a_arg_ok(secret) != 0 ||
        (!*user && !user_optional) || (mechs & ~allowed)) {
        pop3a_set_error(c, POP3A_ERR_INVALID,
                        "bad user name, secret (CR, LF or NUL) or mechanism mask");
        return NULL;
    }
    pop3a_future *f = pop3a_future_alloc(c, &login_op, done, arg);
    if (!f) {
        pop3a_set_error(c, POP3A_ERR_NOMEM, NULL);
        return NULL;
    }
    state_of(f)->user = pop3a_strdup(user);
    state_of(f)->secret = pop3a_strdup(secret);
    state_of(f)->oauth = oauth;
    state_of(f)->requested = mechs;
    if (!state_of(f)->user || !state_of(f)->secret) {
        pop3a_future_release(f);
        pop3a_set_error(c, POP3A_ERR_NOMEM, NULL);
        return NULL;
    }
    pop3a_enqueue(c, f);
    return f;
}

POP3A_EXPORT pop3a_future *pop3a_login(pop3a_client *c, const char *user, const char *secret,
                                       unsigned mechs, pop3a_done_cb done, void *arg)
{
    return submit_login(c, user, secret, mechs, 0, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_login_oauth(pop3a_client *c, const char *user, const char *token,
                                             unsigned mechs, pop3a_done_cb done, void *arg)
{
    return submit_login(c, user, token, mechs, 1, done, arg);
}

POP3A_EXPORT pop3a_future *pop3a_apop(pop3a_client *c, const char *user, const char *secret,
                                      pop3a_done_cb done, void *arg)
{
    return submit_login(c, user, secret, POP3A_MECH_APOP, 0, done, arg);
}
