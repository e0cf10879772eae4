/*
 * POP3A_TEST_SERVER=host:port: the checks that make sense against a server we
 * did not fill and must not change. Connect (TLS as POP3A_TEST_TLS says,
 * verified against POP3A_TEST_CA or the system store), CAPA, login, listings
 * that agree with each other, RETR of message 1 matching its LIST size. Nothing
 * is deleted: no DELE is ever sent, so QUIT's UPDATE state removes nothing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "itest.h"

static void ext_connect(it_session *s)
{
    const it_config *cfg = it_cfg();
    it_session_init(s, NULL, cfg->ext_tls);
    /* With POP3A_TEST_TLS=none the tester chose cleartext explicitly. */
    if (cfg->ext_tls == POP3A_TLS_NONE)
        ck_assert_int_eq(pop3a_options_allow_cleartext(s->opts, 1), 0);
    pop3a_status st = it_connect(s, cfg->ext_host, cfg->ext_port);
    ck_assert_msg(st == POP3A_OK, "connect %s:%u: %s \"%s\" (%s)", cfg->ext_host,
                  (unsigned)cfg->ext_port, pop3a_status_name(st), pop3a_future_text(s->last),
                  pop3a_client_errstr(s->client));
}

static void ext_login(it_session *s)
{
    ext_connect(s);
    pop3a_status st = it_login(s, it_cfg()->ext_user, it_cfg()->ext_password, 0);
    ck_assert_msg(st == POP3A_OK, "login %s: %s \"%s\"", it_cfg()->ext_user,
                  pop3a_status_name(st), pop3a_future_text(s->last));
}

START_TEST(external_connect_and_capa)
{
    it_session s;
    ext_connect(&s);
    if (it_cfg()->ext_tls != POP3A_TLS_NONE) {
        ck_assert_int_eq(pop3a_client_is_tls(s.client), 1);
        ck_assert_int_eq(pop3a_client_tls_verify_result(s.client), 0);
    }
    const pop3a_capa *capa = pop3a_client_capa(s.client);
    unsigned flags = pop3a_capa_flags(capa);
    printf("external: CAPA flags %#x, mechanisms %#x, implementation \"%s\", APOP %s\n", flags,
           pop3a_capa_mechs(capa),
           pop3a_capa_implementation(capa) ? pop3a_capa_implementation(capa) : "",
           pop3a_client_apop_timestamp(s.client) ? "offered" : "not offered");
    /* RFC 2449 is optional; a server that has CAPA lists at least one capability. */
    ck_assert_msg(pop3a_future_capa(s.last) == NULL || flags != 0 ||
                      pop3a_capa_mechs(capa) != 0,
                  "CAPA answered with nothing we know");
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
}
END_TEST

START_TEST(external_login)
{
    it_session s;
    ext_login(&s);
    ck_assert_msg(!it_trace_has(&s.trace, it_cfg()->ext_password), "password in the trace");
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
}
END_TEST

START_TEST(external_stat_list_uidl_agree)
{
    it_session s;
    ext_login(&s);
    uint32_t count = 0;
    uint64_t octets = 0;
    ck_assert_int_eq(pop3a_future_stat(it_run(&s, pop3a_stat(s.client, it_done, &s)), &count,
                                       &octets),
                     0);

    pop3a_future *list = pop3a_future_ref(it_run(&s, pop3a_list(s.client, 0, it_done, &s)));
    IT_ASSERT_STATUS(list, POP3A_OK);
    ck_assert_uint_eq(pop3a_future_count(list), count);
    uint64_t sum = 0;
    int bad = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t msg = 0;
        uint64_t size = 0;
        bad += pop3a_future_entry(list, i, &msg, &size, NULL) != 0 || msg != i + 1;
        sum += size;
    }
    ck_assert_msg(!bad, "LIST numbers are not 1..%" PRIu32, count);
    ck_assert_msg(sum == octets, "LIST sizes add up to %" PRIu64 ", STAT says %" PRIu64, sum,
                  octets);
    pop3a_future_unref(list);

    if (pop3a_capa_flags(pop3a_client_capa(s.client)) & POP3A_CAPA_UIDL ||
        !(pop3a_capa_flags(pop3a_client_capa(s.client)))) {
        pop3a_future *uidl = it_run(&s, pop3a_uidl(s.client, 0, it_done, &s));
        IT_ASSERT_STATUS(uidl, POP3A_OK);
        ck_assert_uint_eq(pop3a_future_count(uidl), count);
        /* RFC 1939 section 7: unique-ids are unique within the maildrop. */
        for (size_t i = 0; i < count && !bad; i++) {
            const char *ui = NULL;
            uint32_t msg = 0;
            bad += pop3a_future_entry(uidl, i, &msg, NULL, &ui) != 0 || msg != i + 1 || !ui;
            for (size_t j = 0; j < i && !bad; j++) {
                const char *uj = NULL;
                pop3a_future_entry(uidl, j, NULL, NULL, &uj);
                bad += strcmp(ui, uj) == 0;
            }
        }
        ck_assert_msg(!bad, "UIDL numbers are not 1..n or a unique-id repeats");
    }
    printf("external: %" PRIu32 " messages, %" PRIu64 " octets\n", count, octets);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
}
END_TEST

START_TEST(external_retr_first_message_matches_list_size)
{
    it_session s;
    ext_login(&s);
    pop3a_future *f = it_run(&s, pop3a_list(s.client, 1, it_done, &s));
    if (pop3a_future_status(f) == POP3A_ERR_SERVER) {
        printf("external: maildrop empty, RETR not checked (\"%s\")\n", pop3a_future_text(f));
        it_session_free(&s);
        return;
    }
    IT_ASSERT_STATUS(f, POP3A_OK);
    uint64_t size = 0;
    ck_assert_int_eq(pop3a_future_entry(f, 0, NULL, &size, NULL), 0);
    f = it_run(&s, pop3a_retr(s.client, 1, it_chunk, it_done, &s));
    IT_ASSERT_STATUS(f, POP3A_OK);
    ck_assert_int_eq(s.finals, 1);
    /* RFC 1939 sections 5 and 11: LIST gives the exact size, CRLF counted, as RETR
     * delivers it once unstuffed. */
    ck_assert_msg(s.body.len == size, "RETR 1 gave %zu octets, LIST said %" PRIu64, s.body.len,
                  size);
    ck_assert_uint_eq(pop3a_future_octets(f), size);
    ck_assert_int_eq(it_quit(&s), POP3A_OK);
    it_session_free(&s);
}
END_TEST

Suite *it_suite_external(void)
{
    Suite *s = suite_create("external");
    TCase *tc = tcase_create("external");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, external_connect_and_capa);
    tcase_add_test(tc, external_login);
    tcase_add_test(tc, external_stat_list_uidl_agree);
    tcase_add_test(tc, external_retr_first_message_matches_list_size);
    suite_add_tcase(s, tc);
    return s;
}
