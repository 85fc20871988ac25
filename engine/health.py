"""Mailbox health that speaks up: an Odoo activity for the owner of a broken mailbox, one summary for managers.

An *incident* is an account in *Invalid OAuth Configuration* (``auth_invalid``) or *Error*, or a synchronized folder
of a connected account that has not synchronized for longer than ``maildesk.health_stall_minutes``. The owner gets
ONE activity on the account (type :data:`OWNER_TYPE`) whose note says the one thing that fixes it (the texts of
:mod:`.feedback`: "Authorize Outlook", or "Administrator action needed: ..."); every MailDesk manager gets ONE
summary activity (type :data:`SUMMARY_TYPE`) listing the mailboxes in trouble, rewritten in place while incidents come
and go, never one per cron run. When the account recovers, both close themselves (``action_feedback``, as a person
marking them done would).

Entry points: :func:`status_written` (``account._write_status``, on every status transition) and :func:`cron_check`
(the "MailDesk: mailbox health" cron: stalled folders, recoveries, the client secret's expiry).
"""
import datetime
import logging

from markupsafe import Markup

from odoo import fields
from odoo.tools import html2plaintext

_logger = logging.getLogger(__name__)

OWNER_TYPE = 'maildesk.mail_activity_type_maildesk_health'
SUMMARY_TYPE = 'maildesk.mail_activity_type_maildesk_health_summary'
PROBLEM_STATES = ('auth_invalid', 'error')
STALL_PARAM = 'maildesk.health_stall_minutes'
DEFAULT_STALL_MINUTES = 120
SECRET_EXPIRY_PARAM = 'maildesk.client_secret_expires_on'
SECRET_WARNED_PARAM = 'maildesk.client_secret_warned'
SECRET_WARNING_DAYS = (30, 7, 1)


# ------------------------------------------------------------------ what is wrong, and what fixes it

def stall_threshold(env):
    """How long a synchronized folder may go without a successful sync before it is an incident."""
    value = env['ir.config_parameter'].sudo().get_param(STALL_PARAM)
    try:
        minutes = int(value) if value else DEFAULT_STALL_MINUTES
    except ValueError:
        minutes = DEFAULT_STALL_MINUTES
    return datetime.timedelta(minutes=max(minutes, 1))


def stalled_folders(accounts):
    """Synchronized folders of these connected accounts whose last successful sync is older than the threshold
    (or that never synchronized since they were created that long ago)."""
    env = accounts.env
    limit = fields.Datetime.now() - stall_threshold(env)
    return env['maildesk.folder'].sudo().search([
        ('account_id', 'in', accounts.ids), ('account_id.state', '=', 'connected'), ('sync_enabled', '=', True),
        '|', ('last_sync_at', '<', limit), '&', ('last_sync_at', '=', False), ('create_date', '<', limit),
    ])


def incidents(account, stalled=None):
    """What is wrong with ``account``, each as the sentence saying what fixes it; ``[]`` when it is healthy.

    :param stalled: the account's stalled folders when already known (see :func:`stalled_folders`)
    """
    env, account = account.env, account.sudo()
    if account.state == 'auth_invalid':
        return [account._check_can_sync() or account.last_error]
    if account.state == 'error':
        return [account.last_error or env._('MailDesk could not use this mailbox: open it and click "Sync now"; '
                                            'if it keeps failing, ask your MailDesk administrator.')]
    if account.state != 'connected':
        return []
    stalled = stalled_folders(account) if stalled is None else stalled
    lines = []
    for folder in stalled:
        reason = folder.last_error or account._check_can_sync() or env._(
            'Click "Sync now" on the mailbox; if it keeps failing, ask your MailDesk administrator.')
        lines.append(env._('The folder "%(folder)s" has not synchronized since %(when)s. %(reason)s',
                           folder=folder.complete_name or folder.name,
                           when=fields.Datetime.to_string(folder.last_sync_at) if folder.last_sync_at
                           else env._('it was selected'), reason=reason))
    return lines


# ------------------------------------------------------------------ activities

def status_written(accounts, vals):
    """``account._write_status`` wrote ``vals``: a state transition opens or closes the health activities."""
    if 'state' in vals and accounts:
        refresh(accounts)


def refresh(accounts):
    """Make the owners' activities of ``accounts`` and the managers' summary match what is wrong now."""
    # queued, not sent inside a sync unit: the assignment mail of an activity waits for the mail queue
    accounts = accounts.sudo().with_context(mail_notify_force_send=False).exists()
    env = accounts.env
    stalled = stalled_folders(accounts)
    for account in accounts:
        _sync_owner_activity(account, incidents(account, stalled.filtered(lambda f, a=account: f.account_id == a)))
    _sync_summary(env)


def cron_check(env):
    """The health cron: every account with an incident or an open health activity is brought up to date, and the
    administrators are warned when the client secret is about to expire."""
    env = env(su=True, context=dict(env.context, mail_notify_force_send=False))
    Account = env['maildesk.account']
    open_ids = _activities(env, OWNER_TYPE).mapped('res_id')
    candidates = Account.search(['|', '|', ('state', 'in', PROBLEM_STATES), ('id', 'in', open_ids),
                                 ('state', '=', 'connected')])
    refresh(candidates)
    warn_secret_expiry(env)
    return True


def _activities(env, xmlid, res_ids=None):
    activity_type = env.ref(xmlid, raise_if_not_found=False)
    if not activity_type:
        return env['mail.activity']
    domain = [('res_model', '=', 'maildesk.account'), ('activity_type_id', '=', activity_type.id)]
    if res_ids is not None:
        domain.append(('res_id', 'in', res_ids))
    return env['mail.activity'].sudo().search(domain, order='id')


def _note(env, intro, lines):
    items = Markup('').join(Markup('<li>%s</li>') % line for line in lines)
    return Markup('<p>%s</p><ul>%s</ul>') % (intro, items)


def _rewrite_if_changed(activity, vals):
    """Write only what changed: an unchanged incident writes nothing, however often the cron runs."""
    changed = {key: value for key, value in vals.items() if (
        html2plaintext(activity[key] or '') != html2plaintext(value or '') if key == 'note'
        else (activity[key].id if key == 'user_id' else activity[key]) != value)}
    if changed:
        activity.write(changed)


def _sync_owner_activity(account, lines):
    env = account.env
    existing = _activities(env, OWNER_TYPE, [account.id])
    if not lines:
        if existing:
            existing.action_feedback(feedback=env._('Resolved: the mailbox %(email)s works again.',
                                                    email=account.email))
        return
    note = _note(env, env._('MailDesk cannot keep %(email)s up to date. What fixes it:', email=account.email),
                 lines)
    summary = env._('Mailbox needs attention: %(email)s', email=account.email)
    if existing:
        # A second run of a parallel worker may have created one too: keep one.
        existing[1:].unlink()
        _rewrite_if_changed(existing[0], {'note': note, 'summary': summary, 'user_id': account.user_id.id})
        return
    account.activity_schedule(OWNER_TYPE, summary=summary, note=note, user_id=account.user_id.id)
    _logger.info('MailDesk account %s: health activity for its owner (%s)', account.id, account.state)


def _managers(env):
    group = env.ref('maildesk.group_maildesk_manager')
    return group.users.filtered(lambda user: user.active and not user.share)


def _sync_summary(env):
    """One summary activity per MailDesk manager while any mailbox has an incident; none otherwise."""
    owner_activities = _activities(env, OWNER_TYPE)
    accounts = env['maildesk.account'].browse(sorted(set(owner_activities.mapped('res_id')))).exists()
    summaries = _activities(env, SUMMARY_TYPE)
    if not accounts:
        if summaries:
            summaries.action_feedback(feedback=env._('Resolved: every mailbox works again.'))
        return
    lines = [env._('%(email)s (%(owner)s): %(what)s', email=account.email, owner=account.user_id.name,
                   what=html2plaintext(activity.note or '').strip())
             for account in accounts
             for activity in owner_activities.filtered(lambda a, account=account: a.res_id == account.id)[:1]]
    note = _note(env, env._('%(count)d mailbox(es) need attention (Configuration > Mailbox Health):',
                            count=len(accounts)), lines)
    summary = env._('MailDesk: %(count)d mailbox(es) need attention', count=len(accounts))
    anchor = accounts[0]  # an activity belongs to a record: the first mailbox in trouble
    managers = _managers(env)
    for manager in managers:
        mine = summaries.filtered(lambda a, manager=manager: a.user_id == manager)
        if mine:
            (mine[1:]).unlink()
            _rewrite_if_changed(mine[0], {'note': note, 'summary': summary, 'res_id': anchor.id})
        else:
            anchor.activity_schedule(SUMMARY_TYPE, summary=summary, note=note, user_id=manager.id)
    summaries.filtered(lambda a: a.user_id not in managers).unlink()


# ------------------------------------------------------------------ the client secret's expiry

def secret_expiry(env):
    """The client secret's expiry date entered in Settings, or None."""
    value = env['ir.config_parameter'].sudo().get_param(SECRET_EXPIRY_PARAM)
    try:
        return fields.Date.to_date(value) if value else None
    except ValueError:
        return None


def warn_secret_expiry(env, today=None):
    """Notify the system administrators once at 30, 7 and 1 day(s) before the client secret expires (and once it
    has): a secret past its expiry stops every mailbox at once (AADSTS7000222)."""
    expiry = secret_expiry(env)
    if not expiry:
        return None
    today = today or fields.Date.context_today(env['res.users'])
    days_left = (expiry - today).days
    due = [days for days in SECRET_WARNING_DAYS if days_left <= days]
    if not due:
        return None
    step = 0 if days_left <= 0 else min(due)
    ICP = env['ir.config_parameter'].sudo()
    marker = '%s:%s' % (expiry.isoformat(), step)
    if ICP.get_param(SECRET_WARNED_PARAM) == marker:
        return None
    ICP.set_param(SECRET_WARNED_PARAM, marker)
    admins = env.ref('base.group_system').users.filtered(lambda user: user.active and not user.share)
    if days_left <= 0:
        body = env._('The MailDesk client secret expired on %(date)s: every mailbox stops until a new one is saved. '
                     'Create a new secret in Entra ID > App registrations > Certificates & secrets, paste its Value '
                     'in Settings > MailDesk and enter its expiry date there.', date=expiry)
    else:
        body = env._('The MailDesk client secret expires in %(days)d day(s), on %(date)s. Create a new secret in '
                     'Entra ID > App registrations > Certificates & secrets before then, paste its Value in '
                     'Settings > MailDesk and enter its new expiry date there.', days=days_left, date=expiry)
    env['mail.thread'].message_notify(partner_ids=admins.partner_id.ids, body=body,
                                      subject=env._('MailDesk: client secret expiry'))
    return days_left
