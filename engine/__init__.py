"""MailDesk's engine: plain Python that knows Odoo's environment but is no model.

Models are thin entry points (buttons, crons, RPC); they call into this package, which calls ``graph/``, which
talks HTTP. Calls go one way: models -> engine -> graph -> HTTP (the way OCA ``queue_job`` keeps its ``Job``
class apart from its models).
"""
