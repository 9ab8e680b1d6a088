"""The stage before everything else when a job names a catalog teacher that is not built on this
machine yet: build it, once for every job and user (``catalog_ensure``'s lock), with progress."""

from __future__ import annotations

from ..run import Run


def teacher_build_needed(config) -> bool:
    """Whether ``config`` names a catalog teacher with no build here (a copy of prsm without the
    catalog has none to build: loading the teacher then says so)."""
    return bool(unbuilt_teachers(config))


def unbuilt_teachers(config) -> list[str]:
    """The catalog names among ``config``'s teachers (an ensemble's every member) not built here."""
    refs = [m.teacher for m in config.ensemble.members] if config.ensemble is not None else [config.teacher]
    names = [ref.removeprefix("catalog:") for ref in refs if ref.startswith("catalog:")]
    if not names:
        return []
    try:
        from ..catalog import ENTRIES, read_card
    except ImportError:
        return []
    return [name for name in names if name in ENTRIES and read_card(name) is None]


def build_teacher(run: Run) -> None:
    for name in unbuilt_teachers(run.config):
        _build_one(run, name)


def _build_one(run: Run, name: str) -> None:
    from ..catalog import catalog_ensure

    run.reporter.log(f"catalog teacher {name} is not built on this machine yet: building it once, for every job")
    waited = []

    def waiting() -> None:
        if not waited:
            run.reporter.log(f"another job is building {name}; this one waits and then uses it")
            waited.append(True)
        run.reporter.check_stop()

    def progress(stage: str, done: int, total: int) -> None:
        run.reporter.progress(done / max(total, 1), message=f"building {name}: {stage} {done}/{total}")
        run.reporter.check_stop()

    folder = catalog_ensure(name, progress=progress, waiting=waiting)
    run.reporter.log(f"catalog teacher {name} is ready in {folder}")
