from . import maildesk_log_record
from . import maildesk_connect, maildesk_shared_mailbox_wizard
