# Only Odoo loads the addon (as odoo.addons.maildesk). Plain-Python test runs of graph/ and emulator/ import
# the repository root as a package too, whatever its folder is called; there the Odoo parts must stay out.
if __name__.startswith('odoo.addons.'):
    from . import cli
    from . import controllers
    from . import models
    from . import wizard
