"""How the pages say a job's numbers in words."""


def duration_text(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    return f"about {minutes} min" if minutes < 90 else f"about {minutes // 60} h {minutes % 60:02d} min"


def expected_text(expected: dict | None) -> str:
    """The estimate's ``expected`` block (expectations.py) in one or two sentences, with its basis."""
    if not expected:
        return ""
    figures, basis = expected_figures(expected), expected["basis"]
    if expected["source"] in ("design_rule", "copy"):
        return f"Expected: {figures}. {basis[:1].upper()}{basis[1:]}." if figures else f"{basis[:1].upper()}{basis[1:]}."
    return f"Expected: about {figures}, from {basis}."


def expected_figures(expected: dict) -> str:
    """"3.6k–6.6k parameters (25–46x smaller), 0.030–0.041 ms a prediction, retention 99.4%–100.6%";
    a design rule's "at most 8.4k parameters (at least 20x smaller)"."""
    parts = []
    smaller = f"{_span(expected['compression'], _ratio)}x smaller" if expected.get("compression") else ""
    if expected.get("params"):
        parts.append(f"{_span(expected['params'], _count)} parameters" + (f" ({smaller})" if smaller else ""))
    elif smaller:
        parts.append(smaller)
    if expected.get("latency_ms_p50"):
        parts.append(f"{_span(expected['latency_ms_p50'], _ms)} ms a prediction")
    if expected.get("retention"):
        parts.append(f"retention {_span(expected['retention'], _percent)}")
    return ", ".join(parts)


def _span(pair: list, say) -> str:
    low, high = pair
    if low is None:
        return f"at most {say(high)}"
    if high is None:
        return f"at least {say(low)}"
    return say(low) if say(low) == say(high) else f"{say(low)}–{say(high)}"


def _count(number: int) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if number >= size:
            return f"{number / size:.1f}".removesuffix(".0") + suffix
    return str(int(number))


def _ratio(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}".removesuffix(".0")


def _ms(ms: float) -> str:
    return "under 0.001" if ms < 0.001 else f"{ms:.3f}" if ms < 0.1 else f"{ms:.2f}" if ms < 10 else f"{ms:.0f}"


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"
