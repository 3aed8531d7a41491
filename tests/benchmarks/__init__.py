"""Benchmarks for `make bench`: each figure printed beside a baseline measured in the same run.

Not tests: nothing here asserts a time. The machine is shared and noisy, so a figure only
means something next to its baseline from the same run on the same rows.
"""
