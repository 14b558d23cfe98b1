"""Sweeps of ordinary CLI runs (locally or on SLURM through submitit), results collection, tables and plots.

``python -m ser_lightning.experiments {run,status,collect,plan} SWEEP.yaml``; see :mod:`.sweep` for the file format.
"""
