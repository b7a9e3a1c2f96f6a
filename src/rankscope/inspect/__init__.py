"""Inspection: gradient norms, weight deltas, probes, attention, adapter ablation and the training trajectory.

Each analysis returns a typed result and saves it as one small file in a run folder (`save_*`/`load_*`),
which `rankscope.report.write_report` turns into figures and an HTML page.
"""
