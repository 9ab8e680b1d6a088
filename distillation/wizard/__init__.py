"""The browser's way to build a DistillationRequest: teacher, data, goal, budget, review (``/distill/``)."""
