"""Frozen copies of the hand-set analyzer (commit facf8dd), a baseline for the routing benchmark."""
