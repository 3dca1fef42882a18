"""``jobworker serve``: the HTTP service (from a checkout: ``pip install './core[server]'``).

:func:`create_app` builds the Litestar application over a :class:`jobworker.Client` (the server
never touches a backend directly). Modules, one concept each: :mod:`.auth` (keys, scopes,
ownership, rate limits), :mod:`.api_jobs` and :mod:`.api_meta` (the REST API),
:mod:`.events` (Server-Sent Events), :mod:`.legacy` (the old system's routes),
:mod:`.dashboard` (the web pages), :mod:`.errors`, :mod:`.models`, :mod:`.schemas`.
See docs/server.md.
"""

from .app import create_app
from .config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
