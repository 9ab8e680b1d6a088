"""Training: the shared loop, atomic checkpoints, the teacher-output cache and the callback."""
