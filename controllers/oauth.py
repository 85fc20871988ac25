import logging

from markupsafe import Markup, escape

from odoo import _, http
from odoo.exceptions import AccessError, UserError
from odoo.http import request

from ..engine import connection, feedback

_logger = logging.getLogger(__name__)

SESSION_KEY = 'maildesk_oauth_flows'
CALLBACK_ROUTE = '/maildesk/oauth/callback'
COMPLETE_ROUTE = '/maildesk/oauth/complete'
RELAYED_PARAMS = ('code', 'state', 'error', 'error_description', 'error_uri', 'client_info', 'session_state')
RELAY_PAGE = Markup("""<!DOCTYPE html>
<html><head><meta charset="utf-8"/><meta name="referrer" content="no-referrer"/><title>MailDesk</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="%(action)s">%(inputs)s
<noscript><p>Click Continue to finish connecting your Outlook mailbox.</p>
<button type="submit">Continue</button></noscript>
</form></body></html>""")
MAX_PENDING_FLOWS = 5
ERROR_TEMPLATE = 'maildesk.oauth_error'


class MaildeskOAuthController(http.Controller):
    """Authorize Outlook: start MSAL's auth-code flow, then redeem Microsoft's callback.

    The MSAL flow (PKCE verifier, nonce, state) stays server-side in the user's session, keyed by its
    ``state``, and is popped by the first callback that names it: a replayed callback finds nothing.
    The ``state`` is HMAC-signed for (account, user, nonce), so a callback is only accepted for the user
    who started it, on an account that user may authorize. We only ever redirect to the authority's
    ``auth_uri`` built by MSAL and back to the account form: no caller-supplied URL is followed.

    Microsoft answers with ``response_mode=form_post``, so the code never sits in a URL (access logs,
    history, Referer). That cross-site POST carries no session cookie (SameSite=Lax), hence the callback
    only relays the parameters with a same-site POST to ``/maildesk/oauth/complete``, which runs as the user.
    """

    @http.route('/maildesk/oauth/start', type='http', auth='user', methods=['GET'])
    def maildesk_oauth_start(self, account_id=None, **kwargs):
        account = request.env['maildesk.account']
        if account_id and str(account_id).isascii() and str(account_id).isdigit():  # not '²' nor an Arabic-Indic digit
            account = account.browse(int(account_id)).exists()
        try:
            if not account:
                raise AccessError(_('This mailbox account does not exist or you cannot access it.'))
            flow = account._start_authorization()
        except (UserError, AccessError) as exc:
            return self._error_page(str(exc), account if account and _can_read(account) else None, status=403
                                    if isinstance(exc, AccessError) else 400)
        flows = dict(request.session.get(SESSION_KEY) or {})
        while len(flows) >= MAX_PENDING_FLOWS:
            flows.pop(next(iter(flows)))
        flows[flow['state']] = flow
        request.session[SESSION_KEY] = flows
        return request.redirect(flow['auth_uri'], local=False)

    @http.route(CALLBACK_ROUTE, type='http', auth='none', methods=['GET', 'POST'], csrf=False, save_session=False)
    def maildesk_oauth_callback(self, **kwargs):
        """Relay Microsoft's answer to :meth:`maildesk_oauth_complete` (same-site, so with the session)."""
        inputs = ''.join('<input type="hidden" name="%s" value="%s"/>' % (escape(name), escape(kwargs[name][:4096]))
                         for name in RELAYED_PARAMS if isinstance(kwargs.get(name), str))
        page = RELAY_PAGE % {'action': escape(COMPLETE_ROUTE), 'inputs': Markup(inputs)}
        return request.make_response(page, headers=[
            ('Content-Type', 'text/html; charset=utf-8'), ('Cache-Control', 'no-store'),
            ('Referrer-Policy', 'no-referrer')])

    @http.route(COMPLETE_ROUTE, type='http', auth='user', methods=['POST'], csrf=False)
    def maildesk_oauth_complete(self, state=None, **kwargs):
        """Redeem the code for the account named by the signed ``state`` (CSRF protection of this route)."""
        flows = dict(request.session.get(SESSION_KEY) or {})
        flow = flows.pop(state, None) if state else None
        if flow is not None:
            request.session[SESSION_KEY] = flows
        account = request.env['maildesk.account']._account_from_oauth_state(state)
        if flow is None or not account:
            _logger.warning('MailDesk OAuth: refused a callback with an unknown, replayed or foreign state '
                            '(user %s).', request.env.uid)
            return self._error_page(_('This Microsoft sign-in response is not valid for you: it was already '
                                      'used, it belongs to another sign-in, or it expired. Nothing was saved. '
                                      'Open the mailbox account and click "Authorize Outlook" again.'),
                                    account or None, status=403)
        params = dict(kwargs, state=state)
        if params.get('error'):
            return self._error_page(self._denied_message(params), account, status=400)
        try:
            account._finish_authorization(flow, params)
        except UserError as exc:
            return self._error_page(str(exc), account, status=400)
        return request.redirect('/odoo/maildesk-accounts/%d' % account.id)

    def _denied_message(self, params):
        """Microsoft redirected back with ``error`` (cancel, declined consent...): say so, store nothing."""
        return feedback.auth_error_text(request.env, connection.callback_error(params))

    def _error_page(self, message, account=None, status=400):
        values = {
            'error': message,
            'back_url': '/odoo/maildesk-accounts/%d' % account.id if account else '/odoo/maildesk-accounts',
        }
        return request.render(ERROR_TEMPLATE, values, status=status)


def _can_read(account):
    try:
        account.check_access('read')
    except AccessError:
        return False
    return True
