from . import maildesk_account
from . import maildesk_folder
from . import maildesk_message
from . import maildesk_tag
from . import fetchmail_server
from . import ir_mail_server
from . import res_config_settings
