"""MailDesk -> Graph: the JSON MailDesk sends (pure functions), next to :mod:`graph.mail` for what it receives.

Models pass plain values (strings, booleans, lists of (name, address) pairs, bytes); only this module knows
Graph's property names and shapes.
"""

FLAG_STATUSES = frozenset({'notFlagged', 'flagged', 'complete'})


def message_patch(is_read=None, flag_status=None, categories=None):
    """The ``PATCH /messages/{id}`` body for the properties given (None: left out, Outlook keeps its value).

    :param bool is_read: read state
    :param str flag_status: ``notFlagged``, ``flagged`` or ``complete``
    :param categories: Outlook category names (an empty list clears them)
    """
    patch = {}
    if is_read is not None:
        patch['isRead'] = bool(is_read)
    if flag_status is not None:
        if flag_status not in FLAG_STATUSES:
            raise ValueError('flag status must be one of %s' % ', '.join(sorted(FLAG_STATUSES)))
        patch['flag'] = {'flagStatus': flag_status}
    if categories is not None:
        patch['categories'] = [str(name).strip() for name in categories if str(name).strip()]
    return patch
