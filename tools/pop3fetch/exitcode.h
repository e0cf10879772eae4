/* sysexits.h codes for what went wrong, and which of two is worse. */
#ifndef POP3FETCH_EXITCODE_H
#define POP3FETCH_EXITCODE_H

#include <pop3async/pop3async.h>

/* A failed command: its status and response code. */
int exit_for_status(pop3a_status st, pop3a_resp_code code);
/* The worse of two exit codes: any failure beats 0, and EX_TEMPFAIL (retry
 * later and it may work) is the mildest failure; among the rest the higher
 * code wins. */
int exit_worse(int a, int b);

#endif
