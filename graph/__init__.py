"""Plain-Python Microsoft Graph + identity platform layer of MailDesk (no Odoo import anywhere in here).

Imported as ``graph`` by pytest and as ``odoo.addons.maildesk.graph`` by Odoo, hence relative imports only.
"""
from . import client, errors, identity, mail
from .client import GraphClient, Page
