from . import maildesk_log_record
