"""Talking to Slack: posting with fallbacks, delivering once, a full search's progress."""
