"""Exchange Online mailbox permissions for Graph requests on another user's mailbox (``/users/{other}/...``).

A user opens another mailbox (typically a shared mailbox: ``info@``, ``support@``) with his own delegated token
when Exchange grants him *Full Access* on it (Add-MailboxPermission -AccessRights FullAccess) and the token holds
the ``.Shared`` permissions (checked per route by ``graph_api.need``). Sending from it takes *Send As* or *Send on
Behalf* (checked at send time by ``graph_write._check_send_as``). Every request checks the grants as they are now,
so a permission revoked in the middle of a sync is refused on the next request.
Docs: "Get messages in a shared or delegated folder" / "Manage permissions for recipients"
(learn.microsoft.com/exchange/recipients-in-exchange-online/manage-permissions-for-recipients);
"Send Outlook messages from another user" (learn.microsoft.com/graph/outlook-send-mail-from-other-user).
"""

ACCESS_DENIED = (403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.')


def check_mailbox_access(store, caller, owner, rest):
    """None when ``caller`` may use the path ``rest`` of ``owner``'s mailbox, else ``(status, code, message)``.

    Without Full Access, Graph answers 403 ErrorAccessDenied "Access is denied. Check credentials and try again."
    (microsoftgraph/microsoft-graph-docs-contrib issue 4749, microsoftgraph/aspnet-snippets-sample issue 36).
    ``sendMail`` on the mailbox needs no Full Access: Send As / Send on Behalf decide at send time.
    """
    if caller is owner or not owner.exchange_online or not rest:
        return None  # own mailbox; no Exchange mailbox (404 MailboxNotEnabledForRESTAPI follows); directory GET
    if len(rest) == 1 and rest[0].lower() == 'sendmail':
        return None
    if 'full_access' not in store.rights(owner, caller):
        return ACCESS_DENIED
    return None
