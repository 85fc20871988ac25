"""MailDesk's stand-in for the Microsoft identity platform and Microsoft Graph mail.

Plain Python (stdlib + cryptography); never imports odoo. Run with ``python3 -m emulator``.
See README.md in this directory and /work/shared/reference/graph-api.md (cited as "graph-api.md §x").
"""

CLIENT_ID = "00000000-0000-4000-8000-00000000a11d"
CLIENT_SECRET = "emu~Q8s.maildesk-emulator-secret-value"
TENANT_ID = "5c0c4e1b-7d42-4e8a-9a1f-6d2b0e5a11d0"
DOMAIN = "contoso.test"
# graph-api.md §2.4: the WWW-Authenticate challenge names Graph's own app id
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
