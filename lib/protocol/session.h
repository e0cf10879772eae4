/* Session states of RFC 1939 section 3, as bits so the command table can list the
 * states in which a command is allowed. */
#ifndef POP3A_SESSION_H
#define POP3A_SESSION_H

enum {
    POP3A_ST_DISCONNECTED = 1u << 0, /* no connection yet, or closed */
    POP3A_ST_CONNECTING = 1u << 1,   /* DNS, TCP, TLS, greeting, CAPA, STLS */
    POP3A_ST_AUTHORIZATION = 1u << 2,
    POP3A_ST_TRANSACTION = 1u << 3,
    POP3A_ST_UPDATE = 1u << 4 /* QUIT sent: nothing else may follow */
};

#endif
