"""Everything whose-key shows people, as pure functions of what the workers found (no I/O; the
clock is passed in):

- `answer`: the answer to a lookup in Slack (Block Kit and its fallback), and lookup failures;
- `heads_up`: the "Notify owner" button's DM to a key's owner;
- `notice`: the notice of a key's change of state (deactivated, deleted, exposed);
- `terminal`: the lookup answer as plain text for the command line;
- `common`: what they share: the verdict sentence, the fact rows, times, and `Markup`, which
  escapes every value from outside for Slack and leaves it as it is for a terminal.
"""
