"""Infrastructure every app shares, below them all: the domain error, the broker, worker heartbeats,
logging. It imports no app; the apps import it (docs/ARCHITECTURE.md has the layers)."""
