/* Makes a client on an event loop and refuses a bad argument, through the
 * subproject's headers and library: enough to prove both are usable. */
#include <pop3async/pop3async.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    struct event_base *base = event_base_new();
    pop3a_client *c = base ? pop3a_client_new(base, NULL, NULL) : NULL;
    if (!c)
        return 1;
    /* A CR in the user name must be refused at submit time. */
    pop3a_future *f = pop3a_user(c, "alice\r\nDELE 1", NULL, NULL);
    int ok = f == NULL && pop3a_client_error(c) == POP3A_ERR_INVALID;
    printf("libpop3async %s: %s\n", POP3A_VERSION_STRING,
           ok ? "refused CR/LF" : "accepted CR/LF");
    pop3a_client_free(c);
    event_base_free(base);
    return ok ? 0 : 1;
}
