"""The experiment behind the validate stage, as small stages: metrics, features, splits,
plan (cost model and protocol), pilot, run (jobs) and evidence.

This package imports nothing heavy itself: :mod:`advisor.options` reads the metric table
(:mod:`.metrics`) at import time and must stay light.
"""
