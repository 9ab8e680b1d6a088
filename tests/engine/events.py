"""A callback for run_distillation that keeps every event it is sent and never asks to stop."""


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def on_event(self, event: dict) -> None:
        self.events.append(event)

    def should_stop(self) -> bool:
        return False
