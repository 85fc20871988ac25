"""18.0.1.1.0: tags became personal (``maildesk.tag.user_id``); each existing tag goes to the user who created it."""


def migrate(cr, version):
    cr.execute("UPDATE maildesk_tag SET user_id = create_uid WHERE create_uid IS NOT NULL")
