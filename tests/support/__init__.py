"""Servers and helpers the tests start; never part of the product."""
