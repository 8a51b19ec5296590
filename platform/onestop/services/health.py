"""The health check's question to the database (GET /healthz)."""

from ..db import database


def check_database() -> None:
    """Run the cheapest statement there is; raises if the database does not answer."""
    database.execute_sql("SELECT 1")
