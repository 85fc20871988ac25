from . import test_install
from . import test_oauth
from . import test_send
