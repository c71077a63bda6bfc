"""Benchmarks: `python -m benchmarks` prints a markdown table of medians and ratios measured in one run."""
