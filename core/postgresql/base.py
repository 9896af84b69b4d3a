"""Django's PostgreSQL backend with a circuit breaker on connecting.

While PostgreSQL cannot be reached, every request would wait DOORMAN_DB_CONNECT_TIMEOUT
seconds for its own attempt, and with one thread per worker the requests behind it would
wait in line for much longer. After a failed connect, this process answers the requests of
the next DOORMAN_DB_RETRY_SECONDS at once with the same error (a 503 with Retry-After, see
core/api_errors.py) and then tries again: an unreachable database costs one wait per
interval, not one per request. A connection that works is never affected, nor one to another
database: Django falls back to the project's database at once when the server refuses the
`postgres` one (creating the test database, `_nodb_cursor`).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.backends.postgresql import base
from django.db.backends.postgresql.base import Database

# (host, port, database) → time.monotonic() before which no connect to it is tried
_retry_at: dict[tuple, float] = {}


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        target = tuple(conn_params.get(name) for name in ("host", "port", "dbname"))
        if time.monotonic() < _retry_at.get(target, 0.0):
            raise Database.OperationalError(
                "PostgreSQL could not be reached a moment ago; not tried again yet."
            )
        try:
            return super().get_new_connection(conn_params)
        except Database.OperationalError:
            _retry_at[target] = time.monotonic() + settings.DOORMAN_DB_RETRY_SECONDS
            raise
