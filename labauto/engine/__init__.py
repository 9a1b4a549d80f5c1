"""The calibration engine: runs a procedure's test points on instrument drivers and records
every reading durably as it arrives.  Plain Python: the Prefect flow in ``flows/`` wraps it,
but nothing here needs Prefect."""
