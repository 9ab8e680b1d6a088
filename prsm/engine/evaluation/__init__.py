"""Held-out quality (accuracy, F1, calibration, agreement) and CPU cost (latency, memory, FLOPs)."""
