"""Performance measurements of report_pipelines against bare Dagster, run with ``python -m benchmarks``.

Every figure is measured in the same run as its baseline and reported as a ratio where a baseline
makes sense; the table is printed and the full results, with the machine they ran on, are written
to ``benchmarks/results.json``. Not part of the pytest run: the measurements take minutes and
depend on the machine.
"""
