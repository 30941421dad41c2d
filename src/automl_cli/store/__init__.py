"""Artifact store: layout, manifests, hashing, atomic writes, locking and verified loading.

Never imports ``automl_cli.core`` or ``automl_cli.cli``.
"""

from __future__ import annotations

from automl_cli.store._lock import ProjectLock
from automl_cli.store._manifest import (
    MANIFEST_NAME,
    SCHEMA_VERSION,
    cache_key,
    content_sha256,
    environment,
)
from automl_cli.store._project import (
    BROKEN_LOCKS,
    DEFAULT_LOCK_TIMEOUT,
    KINDS,
    Artifact,
    ArtifactWriter,
    Project,
    atomic_write_bytes,
    parse_ref,
)

__all__ = [
    "BROKEN_LOCKS",
    "DEFAULT_LOCK_TIMEOUT",
    "KINDS",
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "Artifact",
    "ArtifactWriter",
    "Project",
    "ProjectLock",
    "atomic_write_bytes",
    "cache_key",
    "content_sha256",
    "environment",
    "parse_ref",
]
