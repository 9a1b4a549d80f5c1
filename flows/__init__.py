"""Prefect flows of labauto (calibrate, and its deployments)."""
