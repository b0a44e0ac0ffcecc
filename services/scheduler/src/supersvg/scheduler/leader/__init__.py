"""Leader election: one scheduler replica runs the background loops (see :mod:`.base`)."""

from supersvg.scheduler.leader.base import AlwaysLeader, LeaderElection

__all__ = ["AlwaysLeader", "LeaderElection"]
