"""Key hygiene: what the sweep's snapshots say about the organization's keys as a whole.

A reader streams snapshot records out of Redis, `summarize` folds them into a report in one
pass with bounded memory, and renderers show it in Slack (report, digest, Home tab), in the
terminal, or as one row per key (CSV, JSON). No AWS call is made here: the sweep gathered it all.
"""
