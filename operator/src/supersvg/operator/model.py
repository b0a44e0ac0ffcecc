"""The VectorizeJob resource as the operator sees it. Names, labels, phases and spec
defaults are the job contract's (:mod:`supersvg.api.jobs.vectorizejob`); what is the
operator's own is its identity (``MANAGER``) and its finalizer."""

from __future__ import annotations

from supersvg.api.jobs.vectorizejob import (
    ANNOTATION_TRACEPARENT,
    API_VERSION,
    GROUP,
    KIND,
    LABEL_ATTEMPT,
    LABEL_JOB,
    LABEL_MANAGED_BY,
    LABEL_OWNER_UID,
    OPERATOR,
    PHASES,
    PLURAL,
    TERMINAL_PHASES,
    VERSION,
    spec_with_defaults,
    valid_traceparent,
)

__all__ = [
    "ANNOTATION_TRACEPARENT",
    "API_VERSION",
    "FINALIZER",
    "GROUP",
    "KIND",
    "LABEL_ATTEMPT",
    "LABEL_JOB",
    "LABEL_MANAGED_BY",
    "LABEL_OWNER_UID",
    "MANAGER",
    "PHASES",
    "PLURAL",
    "TERMINAL_PHASES",
    "VERSION",
    "spec_with_defaults",
    "valid_traceparent",
]

#: The operator's ``app.kubernetes.io/managed-by`` value on the pods it creates.
MANAGER = OPERATOR
#: kopf's finalizer on every job: a deleted job is cancelled (pod stopped, status written)
#: before it goes away.
FINALIZER = "supersvg.io/operator"
