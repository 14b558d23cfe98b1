"""Sweeps of ordinary CLI runs (locally or on SLURM through submitit), results collection, tables, figures and the report.

``python -m ser_lightning.experiments {run,status,collect,report,plan} SWEEP.yaml``; see :mod:`.sweep` for the file format.
"""
