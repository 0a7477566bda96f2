"""The command layer shared by every front end (SPEC section 4)."""
