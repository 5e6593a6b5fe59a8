"""replayswarm: record real browsing, replay it as a swarm, keep and compare every run."""

__version__ = "0.1.0"
