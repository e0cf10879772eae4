/* SASLprep (RFC 4013) for SCRAM user names and passwords; see saslprep.c for
 * what it covers. */
#ifndef POP3A_SASLPREP_H
#define POP3A_SASLPREP_H

/* 0 with a malloc'd *out; -1 when the input is not valid UTF-8 or holds a
 * prohibited character; -2 out of memory. */
int pop3a_saslprep(const char *in, char **out);

#endif
