from . import maildesk_log_record
from . import maildesk_connect
