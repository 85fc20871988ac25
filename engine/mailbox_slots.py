"""A mailbox's 4 concurrent Graph requests, shared by every process: advisory locks ``(SLOT_LOCK_BASE + slot,
account id)``, one per request in flight ("Outlook service limits": 4 concurrent requests per app and mailbox,
https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits)."""

MAILBOX_SLOTS = 4             # Outlook: at most 4 concurrent requests per app and mailbox, across all processes
SLOT_LOCK_BASE = 0x4D44_0000  # advisory lock namespace (int4): (SLOT_LOCK_BASE + slot, account id)


def take_mailbox_slots(cr, account_id, wanted):
    """Take up to ``wanted`` of the mailbox's :data:`MAILBOX_SLOTS` (advisory locks, any process, held until
    ``cr``'s transaction ends); how many were free. Sync runs and the body prefetch take theirs here: together
    they never have more than 4 requests of one mailbox in flight."""
    held = 0
    for slot in range(MAILBOX_SLOTS):
        if held == wanted:
            break
        cr.execute('SELECT pg_try_advisory_xact_lock(%s, %s)', [SLOT_LOCK_BASE + slot, account_id])
        held += cr.fetchone()[0]
    return held
