/* Status names and descriptions: one table so the two can never drift apart. */
#include "pop3async/pop3async.h"

static const struct {
    const char *name;
    const char *text;
} status_table[] = {
    [POP3A_OK] = {"POP3A_OK", "success"},
    [POP3A_ERR_SERVER] = {"POP3A_ERR_SERVER", "the server answered -ERR"},
    [POP3A_ERR_PROTOCOL] = {"POP3A_ERR_PROTOCOL", "the server's reply violates the POP3 protocol"},
    [POP3A_ERR_IO] = {"POP3A_ERR_IO", "network input/output error"},
    [POP3A_ERR_EOF] = {"POP3A_ERR_EOF", "connection closed before the reply was complete"},
    [POP3A_ERR_TIMEOUT] = {"POP3A_ERR_TIMEOUT", "timed out"},
    [POP3A_ERR_DNS] = {"POP3A_ERR_DNS", "host name lookup failed"},
    [POP3A_ERR_TLS] = {"POP3A_ERR_TLS", "TLS handshake or certificate verification failed"},
    [POP3A_ERR_TLS_REQUIRED] = {"POP3A_ERR_TLS_REQUIRED", "TLS is required but the server does not offer it"},
    [POP3A_ERR_AUTH] = {"POP3A_ERR_AUTH", "login refused"},
    [POP3A_ERR_CLEARTEXT] = {"POP3A_ERR_CLEARTEXT", "refusing to send a password over an unencrypted connection"},
    [POP3A_ERR_CANCELLED] = {"POP3A_ERR_CANCELLED", "cancelled"},
    [POP3A_ERR_CLOSED] = {"POP3A_ERR_CLOSED", "the client was closed"},
    [POP3A_ERR_NOMEM] = {"POP3A_ERR_NOMEM", "out of memory"},
    [POP3A_ERR_INVALID] = {"POP3A_ERR_INVALID", "invalid argument"},
    [POP3A_ERR_STATE] = {"POP3A_ERR_STATE", "command not allowed in the current session state"},
    [POP3A_ERR_UNSUPPORTED] = {"POP3A_ERR_UNSUPPORTED", "not supported by the server"},
};

static int status_known(pop3a_status status)
{
    return (unsigned)status < sizeof status_table / sizeof status_table[0] &&
           status_table[status].name != NULL;
}

POP3A_EXPORT const char *pop3a_strerror(pop3a_status status)
{
    return status_known(status) ? status_table[status].text : "unknown status";
}

POP3A_EXPORT const char *pop3a_status_name(pop3a_status status)
{
    return status_known(status) ? status_table[status].name : "POP3A_UNKNOWN";
}
