"""The worker process: the RQ worker, the pool supervisor and the periodic schedules."""
