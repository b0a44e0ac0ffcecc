"""The job worker: runs one attempt of one job with the vectorizer library, reading the
input from and writing the artifacts to the artifact store, reporting to the scheduler.

Entry point ``supersvg-worker`` (:mod:`supersvg.worker.__main__`); the environment it
reads is the job contract's :class:`~supersvg.api.jobs.WorkerEnv`. Served models (the
``supersvg models`` command and the worker's fetch) are :mod:`supersvg.worker.models`:
this is the one component with both the artifact store and the vectorizer."""
