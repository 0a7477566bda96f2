"""Scheduled work: the scheduler wiring and the job kinds."""
