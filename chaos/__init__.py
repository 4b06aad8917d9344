"""``make chaos``: the real components as processes, killed and abused under retrying load,
then checked against the invariants (see docs/chaos.md)."""
