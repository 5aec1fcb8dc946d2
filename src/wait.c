/*
 * Waits: the one place that maps a wait kind to the module that owns it.
 * The scheduler cancels a wait (its timer fired, the lthread is destroyed,
 * a timer could not be armed) through lthread__wait_cancel() and knows
 * nothing of conds, joins or fds.
 */
#include "lthread_int.h"

static const struct lthread__wait_ops wait_ops_none = {"none", NULL, NULL};
static const struct lthread__wait_ops wait_ops_sleep = {"sleep", NULL, NULL};

static const struct lthread__wait_ops *const wait_table[LTHREAD__WAIT_NKINDS] =
    {
        [LTHREAD__WAIT_NONE] = &wait_ops_none,
        [LTHREAD__WAIT_SLEEP] = &wait_ops_sleep,
        [LTHREAD__WAIT_COND] = &lthread__wait_ops_cond,
        [LTHREAD__WAIT_JOIN] = &lthread__wait_ops_join,
        [LTHREAD__WAIT_IO] = &lthread__wait_ops_io,
        [LTHREAD__WAIT_REGION] = &lthread__wait_ops_region,
        [LTHREAD__WAIT_MEMORY] = &lthread__wait_ops_memory,
        [LTHREAD__WAIT_XJOIN] = &lthread__wait_ops_xjoin,
        [LTHREAD__WAIT_SYNC] = &lthread__wait_ops_sync,
        [LTHREAD__WAIT_DISK] = &lthread__wait_ops_disk,
        [LTHREAD__WAIT_POLL] = &lthread__wait_ops_chan_poll,
};

bool lthread__wait_poll(const struct lthread *lt)
{
    LTHREAD__CHECK(lt->wait == LTHREAD__WAIT_POLL && wait_table[lt->wait]->poll,
                   "only polled waits are in the pollers");
    return wait_table[lt->wait]->poll(lt);
}

bool lthread__wait_cancel(struct lthread__sched *s, struct lthread *lt)
{
    const struct lthread__wait_ops *ops;

    LTHREAD__CHECK(lt->wait < LTHREAD__WAIT_NKINDS,
                   "an lthread's wait kind is one of enum lthread__wait");
    ops = wait_table[lt->wait];
    if (ops->cancel && !ops->cancel(s, lt))
        return false;
    lt->wait = LTHREAD__WAIT_NONE;
    lt->wait_obj = NULL;
    return true;
}

const char *lthread__wait_name(const struct lthread *lt)
{
    return lt->wait < LTHREAD__WAIT_NKINDS ? wait_table[lt->wait]->name : "?";
}

int lthread__park_arm(struct lthread__sched *s, struct lthread *self,
                      uint64_t timeout)
{
    int err = lthread__timer_arm(s, self, timeout);

    /* Never parked: undo what the caller linked; if that is too late (the
     * wake is on its way), park without the timer after all. */
    if (err < 0 && !lthread__wait_cancel(s, self))
        return 0;
    return err;
}
