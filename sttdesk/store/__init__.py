"""The durable job store: one SQLite file (SQLAlchemy 2, WAL) holding jobs, chunks, agents and events.

The only package that imports SQLAlchemy. Callers use :class:`JobStore` and get
plain records from :mod:`sttdesk.domain.records` back.
"""

from __future__ import annotations

from .database import DATABASE_FILE_NAME, Durability, StoreOptions
from .errors import (
    AgentNotFoundError,
    DatabaseFullError,
    DatabaseLockedError,
    DatabaseUnavailableError,
    InvalidStoreValueError,
    JobAlreadyPlannedError,
    JobNotFoundError,
    JobStateConflictError,
    NotAStoreFileError,
    SchemaTooNewError,
    StoreError,
)
from .migrations import SCHEMA_VERSION, MigrationReport
from .repository import JobStore, default_database_path

__all__ = [
    "DATABASE_FILE_NAME",
    "SCHEMA_VERSION",
    "AgentNotFoundError",
    "DatabaseFullError",
    "DatabaseLockedError",
    "DatabaseUnavailableError",
    "Durability",
    "InvalidStoreValueError",
    "JobAlreadyPlannedError",
    "JobNotFoundError",
    "JobStateConflictError",
    "JobStore",
    "MigrationReport",
    "NotAStoreFileError",
    "SchemaTooNewError",
    "StoreError",
    "StoreOptions",
    "default_database_path",
]
