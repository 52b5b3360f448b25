"""Finding a key: the finder, one account's read, the full search, the key index, owners,
CloudTrail enrichment and the diagnosis.
"""
