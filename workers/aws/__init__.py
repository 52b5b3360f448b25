"""AWS access: error classification (errors.py), the gateway (clients, assumed-role sessions),
Organizations, IAM users and their access keys, CloudTrail and its rate limit.
"""
