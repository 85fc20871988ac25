from . import test_install
from . import test_oauth
from . import test_send
from . import test_writeback
from . import test_conversations
from . import test_send_log_record
from . import test_mail_servers
from . import test_sync_delta
