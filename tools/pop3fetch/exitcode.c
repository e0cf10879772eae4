/* Exit codes (exitcode.h). */
#include "exitcode.h"

#include <sysexits.h>

int exit_for_status(pop3a_status st, pop3a_resp_code code)
{
    /* RFC 2449 s8.1 / RFC 3206: these say "later", whatever the command. */
    if (code == POP3A_RESP_IN_USE || code == POP3A_RESP_LOGIN_DELAY ||
        code == POP3A_RESP_SYS_TEMP)
        return EX_TEMPFAIL;
    switch (st) {
    case POP3A_OK:
        return EX_OK;
    case POP3A_ERR_IO:
    case POP3A_ERR_EOF:
    case POP3A_ERR_TIMEOUT:
    case POP3A_ERR_CLOSED:
    case POP3A_ERR_DNS: /* often a passing resolver failure */
        return EX_TEMPFAIL;
    case POP3A_ERR_AUTH:
        return EX_NOPERM;
    case POP3A_ERR_PROTOCOL:
        return EX_PROTOCOL;
    case POP3A_ERR_CLEARTEXT:
    case POP3A_ERR_INVALID:
        return EX_CONFIG;
    case POP3A_ERR_TLS:
    case POP3A_ERR_TLS_REQUIRED:
    case POP3A_ERR_UNSUPPORTED:
    case POP3A_ERR_SERVER:
    case POP3A_ERR_STATE:
        return EX_UNAVAILABLE;
    case POP3A_ERR_NOMEM:
        return EX_OSERR;
    case POP3A_ERR_CANCELLED:
        return EX_SOFTWARE;
    }
    return EX_SOFTWARE;
}

int exit_worse(int a, int b)
{
    if (a == EX_OK || b == EX_OK)
        return a == EX_OK ? b : a;
    if (a == EX_TEMPFAIL || b == EX_TEMPFAIL)
        return a == EX_TEMPFAIL ? b : a;
    return a > b ? a : b;
}
