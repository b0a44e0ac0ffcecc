"""SuperSVG scheduler: the job state machine, executors, progress, cancel, retention and
signed callbacks, served over gRPC (``supersvg.api.v1.SchedulerService``)."""
