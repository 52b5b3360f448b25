"""AWS access: the gateway (clients, assumed-role sessions, error classification), Organizations,
IAM, CloudTrail and its rate limit.
"""
