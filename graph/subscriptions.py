"""Graph change notifications for mail folders: the subscription calls and the notification payloads.

Pure wire format, no Odoo. A subscription asks Graph to POST a *basic* notification (no resource data: MailDesk
never trusts it anyway, the delta of the folder stays the single source of truth) to ``notification_url`` when a
message of one folder is created, updated or deleted, and lifecycle events to ``lifecycle_url``.

References (Microsoft Learn):
- Create subscription, https://learn.microsoft.com/graph/api/subscription-post-subscriptions
- Update (renew) subscription, https://learn.microsoft.com/graph/api/subscription-update
- subscription resource type, "Subscription lifetime": Outlook message 10,080 minutes (under 7 days),
  https://learn.microsoft.com/graph/api/resources/subscription#subscription-lifetime
- Receive change notifications through webhooks (validation: echo ``validationToken`` as text/plain, 200, within
  10 seconds; answer notifications with 2xx within 3 seconds), https://learn.microsoft.com/graph/change-notifications-delivery-webhooks
- Lifecycle notifications (reauthorizationRequired, subscriptionRemoved, missed),
  https://learn.microsoft.com/graph/change-notifications-lifecycle-events
"""
import collections
import datetime
import json
from urllib.parse import quote

from dateutil import parser as date_parser

from .errors import BadResponse

# "Subscription lifetime" (subscription resource type): Outlook message, event, contact: 10,080 minutes.
MAX_LIFETIME = datetime.timedelta(minutes=10080)
# Asked for at creation and renewal: the maximum, less a margin for clock skew (a longer one is refused with 400).
REQUESTED_LIFETIME = MAX_LIFETIME - datetime.timedelta(minutes=10)
CHANGE_TYPES = 'created,updated,deleted'
CLIENT_STATE_MAX = 128  # "clientState ... Maximum length is 128 characters" (subscription resource type)
LIFECYCLE_EVENTS = frozenset({'reauthorizationRequired', 'subscriptionRemoved', 'missed'})
MAX_BODY_BYTES = 256 * 1024  # a notification collection is small; a bigger body is not Graph's
MAX_ITEMS = 1000
MAX_ID_LENGTH = 256

Notice = collections.namedtuple('Notice', 'subscription_id client_state change_type lifecycle_event')
Notice.__doc__ = """One item of a notification collection: the subscription it names, the clientState it carries,
and ``change_type`` (created/updated/deleted) or ``lifecycle_event``. Nothing else of the payload is kept."""


class InvalidPayload(ValueError):
    """The body is not a change-notification collection."""


def folder_resource(client, folder_id):
    """The subscribed resource for a folder's messages, e.g. ``me/mailFolders('AAMk..')/messages``."""
    return "%s/mailFolders('%s')/messages" % (client.root.lstrip('/'), _quote_id(folder_id))


def create(client, folder_id, notification_url, lifecycle_url, client_state, now=None):
    """``POST /subscriptions`` for one folder. Graph validates ``notification_url`` (and ``lifecycle_url``) before
    answering: the call takes as long as that handshake (up to 10 s per URL).

    :return: ``(subscription id, expiration datetime (naive UTC))``
    :raises GraphError: e.g. 400 ValidationError when the endpoint failed the handshake
    """
    if len(client_state) > CLIENT_STATE_MAX:
        raise ValueError('clientState is limited to %d characters' % CLIENT_STATE_MAX)
    body = {
        'changeType': CHANGE_TYPES,
        'resource': folder_resource(client, folder_id),
        'notificationUrl': notification_url,
        'lifecycleNotificationUrl': lifecycle_url,
        'clientState': client_state,
        'expirationDateTime': _iso(_expiry(now)),
    }
    return _subscription(client.call('POST', '/subscriptions', json_body=body))


def renew(client, subscription_id, now=None):
    """``PATCH /subscriptions/{id}`` with a new ``expirationDateTime`` (also answers reauthorizationRequired).

    :return: ``(subscription id, expiration datetime (naive UTC))``
    """
    body = {'expirationDateTime': _iso(_expiry(now))}
    return _subscription(client.call('PATCH', '/subscriptions/%s' % _quote_id(subscription_id), json_body=body))


def delete(client, subscription_id):
    """``DELETE /subscriptions/{id}`` (204)."""
    client.call('DELETE', '/subscriptions/%s' % _quote_id(subscription_id), expect='none')


def parse_notifications(body):
    """The items of a notification collection (``{"value": [...]}``) as :class:`Notice` tuples.

    Defensive: bytes over :data:`MAX_BODY_BYTES`, non-JSON, or another shape raise :class:`InvalidPayload`;
    items without a subscription id or clientState string, or naming neither a change type nor a known lifecycle
    event, are left out; resource data is never read.
    """
    if not isinstance(body, (bytes, bytearray)) or len(body) > MAX_BODY_BYTES:
        raise InvalidPayload('not a notification body')
    try:
        data = json.loads(body.decode('utf-8', 'replace'))
    except (ValueError, RecursionError):
        raise InvalidPayload('not JSON') from None
    items = data.get('value') if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InvalidPayload('no value list')
    notices = []
    for item in items[:MAX_ITEMS]:
        if not isinstance(item, dict):
            continue
        subscription_id, client_state = item.get('subscriptionId'), item.get('clientState')
        if not _short_string(subscription_id) or not isinstance(client_state, str) \
                or len(client_state) > CLIENT_STATE_MAX:
            continue
        event = item.get('lifecycleEvent')
        change = item.get('changeType')
        if event is not None:
            if event not in LIFECYCLE_EVENTS:
                continue
            notices.append(Notice(subscription_id, client_state, None, event))
        elif _short_string(change):
            notices.append(Notice(subscription_id, client_state, change, None))
    return notices


def _short_string(value):
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH


def _expiry(now):
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return now + REQUESTED_LIFETIME


def _iso(moment):
    return moment.replace(microsecond=0).isoformat() + 'Z'


def _quote_id(value):
    return quote(str(value), safe='=')


def _subscription(body):
    subscription_id = body.get('id') if isinstance(body, dict) else None
    expires = body.get('expirationDateTime') if isinstance(body, dict) else None
    if not _short_string(subscription_id) or not isinstance(expires, str):
        raise BadResponse('Graph returned a subscription without id or expirationDateTime', code='badResponse')
    try:
        moment = date_parser.isoparse(expires)
    except ValueError:
        raise BadResponse('Graph returned an unreadable expirationDateTime', code='badResponse') from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return subscription_id, moment
