"""Answering a person in Slack: a lookup run over the keys they asked about, the answer kept for
its buttons, the notice while a full search waits for a slot, and the buttons themselves."""
