"""The command layer shared by every front end (docs/commands.md)."""
