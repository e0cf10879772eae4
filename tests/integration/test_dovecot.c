/*
 * The Dovecot integration suite: libpop3async against a real Dovecot 2.3 started
 * by tests/integration/run-suite (see README.md beside this file), or against an
 * external server named by POP3A_TEST_SERVER (a smaller set that needs no
 * manifests and deletes nothing).
 *
 * Check's usual knobs work: CK_RUN_SUITE=login, CK_RUN_CASE=..., CK_FORK=no.
 */
#include <signal.h>
#include <stdlib.h>

#include "itest.h"

int main(void)
{
    /* libevent leaves SIGPIPE to the application; a peer that hangs up must not
     * kill the test. */
    signal(SIGPIPE, SIG_IGN);
    it_config_load();

    SRunner *sr;
    if (it_cfg()->external) {
        sr = srunner_create(it_suite_external());
    } else {
        sr = srunner_create(it_suite_login());
        srunner_add_suite(sr, it_suite_tls());
        srunner_add_suite(sr, it_suite_mailbox());
        srunner_add_suite(sr, it_suite_load());
        srunner_add_suite(sr, it_suite_fetch_all());
        srunner_add_suite(sr, it_suite_proxy());
    }
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
