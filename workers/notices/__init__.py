"""Telling owners about their keys: state transitions, pending notices, confirming a claim with
IAM, the notifier.
"""
