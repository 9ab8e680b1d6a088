"""Student design: candidate architectures, measured on this CPU, and the choice among them."""
