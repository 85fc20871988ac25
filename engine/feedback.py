"""The one home of user-facing text about failures, and the one notification helper.

Every caller that turns a :mod:`graph.errors` exception into a sentence for a person calls
:func:`graph_error_text` (or :func:`auth_error_text` for a sign-in failure); every client notification a model
returns is built by :func:`notification`. Texts are translated in the language of the ``env`` passed in.
"""
from odoo.tools import LazyTranslate

from ..graph import errors

_lt = LazyTranslate(__name__)

# Hints per AADSTS number (graph-api.md §8.5): what the user or the administrator should do.
AADSTS_HINTS = {
    7000215: _lt('The client secret in Settings > MailDesk is wrong: paste the secret Value (not the Secret ID) '
                 'from Entra ID > App registrations > Certificates & secrets.'),
    7000222: _lt('The client secret has expired: create a new one in Entra ID > App registrations > '
                 'Certificates & secrets and paste its Value in Settings > MailDesk.'),
    7000218: _lt('No client secret was sent: enter the Client Secret in Settings > MailDesk.'),
    700016: _lt('The Client ID is not known in this tenant: check the Application (client) ID and the Tenant in '
                'Settings > MailDesk.'),
    50011: _lt('The redirect URI is not registered: add the redirect URI shown in Settings > MailDesk to the app '
               'registration (Authentication > Web).'),
    70004: _lt('The redirect URI is not registered: add the redirect URI shown in Settings > MailDesk to the app '
               'registration (Authentication > Web).'),
    90002: _lt('The tenant was not found: check the Tenant in Settings > MailDesk.'),
    50194: _lt('This app registration is single-tenant: set the Tenant in Settings > MailDesk to your tenant ID '
               'or domain instead of "common".'),
    65001: _lt('The permissions were not granted: click "Authorize Outlook" and accept them, or ask your '
               'Microsoft 365 administrator to grant consent to the app.'),
    70008: _lt('The sign-in has expired: click "Authorize Outlook" to sign in again.'),
    700082: _lt('The sign-in has expired after a long inactivity: click "Authorize Outlook" to sign in again.'),
    50173: _lt('The sign-in was revoked (password reset or access revoked): click "Authorize Outlook" to sign in '
               'again.'),
    54005: _lt('This sign-in code was already used: click "Authorize Outlook" again.'),
    70043: _lt('Your organization requires you to sign in again: click "Authorize Outlook".'),
    50076: _lt('Multi-factor authentication is required: click "Authorize Outlook" to sign in again.'),
    50079: _lt('Multi-factor authentication must be set up: click "Authorize Outlook" to sign in again.'),
}
ADMIN_AADSTS = frozenset({7000215, 7000222, 7000218, 700016, 50011, 70004, 90002, 50194})
KIND_HINTS = {
    'invalid_grant': _lt('Microsoft no longer accepts this mailbox\'s sign-in (expired or revoked): click '
                         '"Authorize Outlook" to sign in again.'),
    'interaction_required': _lt('Microsoft requires you to sign in again: click "Authorize Outlook".'),
    'consent_required': _lt('The permissions MailDesk needs were not granted: click "Authorize Outlook" and '
                            'accept them, or ask your Microsoft 365 administrator to grant consent.'),
    'invalid_client': _lt('Microsoft refused the app credentials: check the Client ID and Client Secret in '
                          'Settings > MailDesk (a secret expires; create a new one in Entra ID if needed).'),
    'access_denied': _lt('The sign-in was cancelled or the permissions were declined at Microsoft. Nothing was '
                         'changed: click "Authorize Outlook" to try again.'),
    'auth_expired': _lt('Microsoft Graph refused the access token even after a refresh: click "Authorize Outlook" '
                        'to sign in again if this keeps happening.'),
    'no_account': _lt('No Microsoft sign-in is stored for this mailbox: click "Authorize Outlook".'),
    'other': _lt('Microsoft refused the authorization: click "Authorize Outlook" to try again, and check the '
                 'settings in Settings > MailDesk if it keeps failing.'),
}
# Failures of MailDesk's own token key (engine/connection.py, engine/token_key.py): not Microsoft's words.
TOKEN_KEY_HINTS = {
    'token_key': _lt('The stored Microsoft sign-in of this mailbox cannot be decrypted with the token key this '
                     'server uses (maildesk_token_key): restore the key it was encrypted with, or click '
                     '"Authorize Outlook" to sign in again.'),
    'token_key_unusable': _lt('MailDesk has no usable token key to encrypt the Microsoft sign-in with: set '
                              'maildesk_token_key in the Odoo configuration (see SECURITY.md).'),
}


# MailDesk's own refusals before any request (engine/connection.py check_token_usable): the account's state, said
# once, in the same words as its status; there are no "Microsoft said" words to add.
LOCAL_AUTH_HINTS = {
    'auth_invalid': _lt('Microsoft no longer accepts this mailbox\'s sign-in, so sync and sending are suspended: '
                        'click "Authorize Outlook" to sign in again.'),
    'not_authorized': _lt('This mailbox is not authorized yet: click "Authorize Outlook" and sign in.'),
}


def suspended_text(env):
    """What a suspended (auth_invalid) account says everywhere: its status, Sync, a send."""
    return env._(LOCAL_AUTH_HINTS['auth_invalid'])


def failure_kind(exc):
    """The AuthInvalid kind of an authorization failure; Graph's 401 after a refresh counts as expired grant."""
    if isinstance(exc, errors.AuthExpired):
        return 'auth_expired'
    return getattr(exc, 'kind', 'other')


def auth_error_text(env, exc):
    """A sentence for a sign-in failure (:class:`AuthInvalid` / :class:`AuthExpired`), with a hint on what to
    fix (AADSTS number first, then the kind) and Microsoft's own words."""
    key_hint = TOKEN_KEY_HINTS.get(getattr(exc, 'code', None))
    if key_hint:
        text = env._('Administrator action needed: %(hint)s', hint=env._(key_hint))
        return text if exc.code == 'token_key' else '%s\n%s' % (text, exc.message)
    local_hint = LOCAL_AUTH_HINTS.get(getattr(exc, 'code', None))
    if local_hint:
        return env._(local_hint)
    codes = getattr(exc, 'error_codes', None) or []
    hint = next((AADSTS_HINTS[code] for code in codes if code in AADSTS_HINTS), None)
    kind = failure_kind(exc)
    if hint is None:
        hint = KIND_HINTS.get(kind, KIND_HINTS['other'])
    text = env._(hint)
    if kind == 'invalid_client' or (codes and set(codes) & ADMIN_AADSTS):
        text = env._('Administrator action needed: %(hint)s', hint=text)
    detail = getattr(exc, 'message', '') or ''
    return '%s\n%s' % (text, env._('Microsoft said: %(detail)s', detail=detail)) if detail else text


def graph_error_text(env, exc, what):
    """A sentence for a Graph failure while MailDesk tried to ``what`` (a translated verb phrase such as
    "send the message"): what happened, and what the person can do about it."""
    if isinstance(exc, errors.AuthInvalid):
        return auth_error_text(env, exc)
    if isinstance(exc, errors.AuthExpired):
        return env._('Outlook did not accept the mailbox\'s sign-in, so MailDesk could not %(what)s. Click '
                     '"Authorize Outlook" on the account, then try again.', what=what)
    if isinstance(exc, errors.AccessDenied):
        return env._('Outlook refused to %(what)s: the mailbox\'s sign-in lacks a permission (%(detail)s). Check the '
                     'app registration\'s permissions and the permission level in Settings > MailDesk (changing for '
                     'write needs "Read & write back"), then click "Authorize Outlook" on the account again.',
                     what=what, detail=exc.message)
    if isinstance(exc, errors.Throttled):
        return env._('Outlook asked MailDesk to slow down, so it could not %(what)s. Try again in %(seconds)s '
                     'seconds.', what=what, seconds=int(exc.retry_after or 30) + 1)
    if isinstance(exc, errors.NotFound):
        return env._('Outlook no longer has this message or folder (moved or deleted in Outlook), so MailDesk '
                     'could not %(what)s. The next sync updates MailDesk.', what=what)
    if isinstance(exc, errors.RequestTooLarge):
        return env._('Outlook refused to %(what)s: the message is too large for the mailbox (%(detail)s). Remove '
                     'or shrink attachments.', what=what, detail=exc.message)
    if isinstance(exc, errors.Transient):
        return env._('Outlook could not be reached or failed (%(detail)s), so MailDesk could not %(what)s. '
                     'Nothing is lost: try again in a moment.', what=what, detail=exc.message)
    return env._('Outlook refused to %(what)s: %(detail)s', what=what, detail=exc.message)


def notification(message, kind='info', title=None, sticky=None, next_action=None):
    """A client action showing an Odoo notification; ``sticky`` defaults to True for anything but success.

    :param next_action: an action dict run after it (e.g. ``{'type': 'ir.actions.act_window_close'}``)
    """
    params = {'type': kind, 'message': message, 'sticky': kind != 'success' if sticky is None else sticky}
    if title:
        params['title'] = title
    if next_action:
        params['next'] = next_action
    return {'type': 'ir.actions.client', 'tag': 'display_notification', 'params': params}


SOFT_RELOAD = {'type': 'ir.actions.client', 'tag': 'soft_reload'}
CLOSE_DIALOG = {'type': 'ir.actions.act_window_close'}
