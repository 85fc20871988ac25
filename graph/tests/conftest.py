"""pytest setup for the graph package tests.

The repository root is the Odoo addon, so it has an ``__init__.py`` that imports Odoo models. pytest (8+) makes
the root a Package and imports that ``__init__.py`` (as the root folder's name) before the first test, which
fails outside Odoo. pytest reuses a module already in ``sys.modules`` under that name, so an empty stand-in is
registered here. (A root-level conftest.py returning ``pytest.Dir`` for the root would be the cleaner fix.)
"""
import os
import sys
import types

ADDON_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_root_name = os.path.basename(ADDON_ROOT)
if _root_name not in sys.modules:
    _stand_in = types.ModuleType(_root_name, 'stand-in for the Odoo addon package while running pytest')
    _stand_in.__path__ = []
    sys.modules[_root_name] = _stand_in
