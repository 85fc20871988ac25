"""Mail rules of a gateway mailbox: conditions (from / to / subject contain, attachments, folder) -> actions (route
to a model, assign a user, tag, move, mark read), in order, applied by the mail gateway to each message it routes.

:func:`plan` says what the rules do to a message (pure: the dry run shows it), :func:`apply` does the MailDesk side
after routing (tags; read and move through the message actions, i.e. :mod:`engine.write_back`) and logs it on each
rule's chatter, in the routing transaction: an action is logged exactly when it is committed.
"""
from markupsafe import Markup, escape

from odoo import fields


def account_rules(account):
    return account.env['maildesk.rule'].sudo().search([('account_id', '=', account.id)], order='sequence, id')


def rule_folder_ids(account):
    """Folders of the account whose mail the gateway routes besides the Inbox (named in a rule's condition)."""
    return account_rules(account).folder_id.ids


def matches(rule, message):
    def contains(needle, *haystacks):
        return not needle or needle.strip().lower() in ' '.join(h or '' for h in haystacks).lower()
    return (contains(rule.from_contains, message.from_address, message.from_name)
            and contains(rule.to_contains, message.to_recipients, message.cc_recipients)
            and contains(rule.subject_contains, message.subject)
            and (not rule.has_attachments or (rule.has_attachments == 'yes') == bool(message.has_attachments))
            and (not rule.folder_id or rule.folder_id == message.folder_id))


def plan(message, rules=None):
    """What the account's rules do to ``message``, in order: ``{'rules', 'route_model', 'user', 'tags', 'move_to',
    'mark_read'}``. The first matching rule with a model (or user) decides those; a "Stop Here" rule ends it."""
    rules = account_rules(message.account_id) if rules is None else rules
    env = message.env
    result = {'rules': env['maildesk.rule'], 'route_model': False, 'user': env['res.users'],
              'tags': env['maildesk.tag'], 'move_to': env['maildesk.folder'], 'mark_read': False}
    for rule in rules:
        if not matches(rule, message):
            continue
        result['rules'] |= rule
        result['route_model'] = result['route_model'] or rule.route_model_id.model
        result['user'] = result['user'] or rule.assign_user_id
        result['tags'] |= rule.tag_ids
        result['move_to'] = result['move_to'] or rule.move_folder_id
        result['mark_read'] = result['mark_read'] or rule.mark_read
        if rule.stop_processing:
            break
    return result


def custom_values(the_plan, model_name):
    """``message_process``'s ``custom_values`` for a new record: the assigned user, when the model has a user."""
    env = the_plan['rules'].env
    if the_plan['user'] and model_name in env and 'user_id' in env[model_name]._fields:
        return {'user_id': the_plan['user'].id}
    return None


def describe(env, the_plan, model_name=None):
    """The plan's actions, for people."""
    parts = []
    if model_name or the_plan['route_model']:
        parts.append(env._('route to %s', model_name or the_plan['route_model']))
    if the_plan['user']:
        parts.append(env._('assign to %s', the_plan['user'].name))
    if the_plan['tags']:
        parts.append(env._('tag %s', ', '.join(the_plan['tags'].mapped('name'))))
    if the_plan['move_to']:
        parts.append(env._('move to %s', the_plan['move_to'].name))
    if the_plan['mark_read']:
        parts.append(env._('mark as read'))
    return parts


def apply(message, the_plan, outcome):
    """After routing (same transaction): the MailDesk actions, and one log line on each matching rule."""
    if not the_plan['rules']:
        return
    if the_plan['tags']:
        message.sudo().write({'tag_ids': [fields.Command.link(tag.id) for tag in the_plan['tags']]})
    if the_plan['mark_read'] and not message.is_read:
        message.action_mark_read()
    if the_plan['move_to'] and the_plan['move_to'] != message.folder_id:
        message.action_move(the_plan['move_to'].id)
    env = message.env
    line = env._('Applied to "%(subject)s" from %(sender)s: %(actions)s (gateway: %(outcome)s).',
                 subject=message.subject or '', sender=message.from_address or '?',
                 actions=', '.join(describe(env, the_plan)) or env._('no action'), outcome=outcome)
    for rule in the_plan['rules']:
        rule.message_post(body=Markup('<p>%s</p>') % line, subtype_xmlid='mail.mt_note')


def dry_run(account, limit=50):
    """What the rules would do to the account's last ``limit`` messages, doing nothing:
    ``[{'message', 'rule_ids', 'actions'}]`` (newest first)."""
    rules = account_rules(account)
    messages = account.env['maildesk.message'].sudo().search(
        [('account_id', '=', account.id), ('is_draft', '=', False)], limit=limit, order='received_at desc, id desc')
    report = []
    for message in messages:
        the_plan = plan(message, rules)
        report.append({'message': message, 'rule_ids': the_plan['rules'].ids,
                       'actions': describe(account.env, the_plan) if the_plan['rules'] else []})
    return report


def report_html(env, report):
    rows = Markup('').join(
        Markup('<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>') % (
            row['message'].subject or '', row['message'].from_address or '',
            ', '.join(env['maildesk.rule'].browse(row['rule_ids']).mapped('name')) or '-',
            ', '.join(row['actions']) or '-')
        for row in report)
    head = Markup('<tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr>') % (
        env._('Subject'), env._('From'), env._('Rules'), env._('Would do'))
    matched = sum(1 for row in report if row['rule_ids'])
    return Markup('<p>%s</p><table class="table table-sm">%s%s</table>') % (
        escape(env._('%(matched)d of the last %(count)d messages match. Nothing was changed.',
                     matched=matched, count=len(report))), head, rows)
