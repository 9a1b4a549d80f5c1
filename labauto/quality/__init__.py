"""The lab's quality records (ISO/IEC 17025 6.4, 6.5, 7.7).

    records.py         the data model: register item, calibration record, status change,
                       intermediate-check result (one schema for files, database and CLI)
    register.py        open a register (a folder of YAML files, or PostgreSQL) and the gate a
                       run passes before it uses an item
    register_files.py  the register as one YAML file per item (a lab versions them in git)
    register_db.py     the same register in PostgreSQL (SQLAlchemy)
    control.py         Shewhart limits and the Western Electric / Nelson run rules
    intervals.py       calibration intervals from as-found history (NCSLI RP-1 A3, S2)
    checks.py          an intermediate check: judge, record, quarantine, recall impact
"""
