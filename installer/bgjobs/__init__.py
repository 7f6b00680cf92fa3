"""bgjobs: PostgreSQL-native background jobs (pg_cron + PL/pgSQL + PL/Python)."""

__version__ = "0.1.0"
