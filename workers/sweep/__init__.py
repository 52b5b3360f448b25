"""The deactivation sweep: one account's read and comparison, batches of users, the lock, the
sweep's state and the in-process run.
"""
