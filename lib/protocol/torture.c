/* The failure-point counter of the torture build (alloc.h); not in the normal
 * library. One counter for the process: the torture driver runs one session at
 * a time on one thread. */
#include "alloc.h"

static unsigned long count;
static unsigned long armed;
static int fired;

int pop3a_torture_fail(void)
{
    if (++count != armed)
        return 0;
    fired = 1;
    return 1;
}

void pop3a_torture_arm(unsigned long fail_at)
{
    count = 0;
    armed = fail_at;
    fired = 0;
}

unsigned long pop3a_torture_count(void)
{
    return count;
}

int pop3a_torture_fired(void)
{
    return fired;
}
