"""Scheduled jobs, the scheduler and the leases that let one process run a job."""
