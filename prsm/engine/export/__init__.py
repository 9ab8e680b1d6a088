"""Exports, each verified against the model it came from before it is recorded in the report."""
