import logging

from odoo import http
from odoo.http import request

from ..engine import push
from ..graph import subscriptions

_logger = logging.getLogger(__name__)

MAX_VALIDATION_TOKEN = 1024
PLAIN_HEADERS = [('Content-Type', 'text/plain; charset=utf-8'), ('X-Content-Type-Options', 'nosniff'),
                 ('Cache-Control', 'no-store')]


class MaildeskPushController(http.Controller):
    """Microsoft Graph change notifications and lifecycle events (public: Microsoft calls them, no session).

    Validation handshake: Graph POSTs ``?validationToken=...`` and expects it back as text/plain with 200 within
    10 seconds ("Receive change notifications through webhooks",
    https://learn.microsoft.com/graph/change-notifications-delivery-webhooks); nothing is read from the database.
    Notifications: answered 202 at once (Graph wants a 2xx within 3 seconds); the work is the push cron's. Bodies
    over :data:`graph.subscriptions.MAX_BODY_BYTES` are refused before being read. Unknown subscriptions and wrong
    clientStates are answered like good ones (no oracle) and cost one indexed read.
    """

    @http.route([push.NOTIFY_ROUTE, push.LIFECYCLE_ROUTE], type='http', auth='public', methods=['POST'],
                csrf=False, save_session=False)
    def maildesk_push_notification(self, **_params):
        token = request.httprequest.args.get('validationToken')
        if token is not None:
            if not token or len(token) > MAX_VALIDATION_TOKEN:
                return request.make_response('', status=400, headers=PLAIN_HEADERS)
            return request.make_response(token, status=200, headers=PLAIN_HEADERS)
        length = request.httprequest.content_length
        if length is None or length > subscriptions.MAX_BODY_BYTES:
            return request.make_response('', status=413 if length else 411, headers=PLAIN_HEADERS)
        body = request.httprequest.get_data()  # Content-Length is checked above: bounded
        try:
            push.handle_notifications(request.env(su=True), body)
        except subscriptions.InvalidPayload:
            return request.make_response('', status=400, headers=PLAIN_HEADERS)
        return request.make_response('', status=202, headers=PLAIN_HEADERS)
