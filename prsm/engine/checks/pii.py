"""Personal data in text: e-mail addresses, phone numbers, payment-card numbers and IBANs.

Card numbers count only when they pass the Luhn checksum (ISO/IEC 7812-1) and IBANs only when
they pass the ISO 13616 mod-97 check, so order numbers and dates are not mistaken for them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

KINDS = ("iban", "card", "email", "phone")
PLACEHOLDERS = {"iban": "[IBAN]", "card": "[CARD]", "email": "[EMAIL]", "phone": "[PHONE]"}

_PATTERNS = {
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b"),
    "card": re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
    "email": re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
    "phone": re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w-])"),
}


def luhn_valid(number: str) -> bool:
    """Luhn: double every second digit from the right, subtract 9 above 9; the sum is 0 mod 10."""
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35; the number mod 97 is 1."""
    text = candidate.replace(" ", "").upper()
    if not 15 <= len(text) <= 34 or not text.isalnum():
        return False
    rearranged = text[4:] + text[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _phone_like(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    return 9 <= digits <= 15


_VALID = {"iban": iban_valid, "card": luhn_valid, "email": lambda _: True, "phone": _phone_like}


@dataclass
class Finding:
    kind: str
    start: int
    end: int
    text: str


def find_pii(text: str) -> list[Finding]:
    """Non-overlapping findings in ``text``, IBANs and cards first (a card is not also a phone)."""
    found: list[Finding] = []
    for kind in KINDS:
        for match in _PATTERNS[kind].finditer(text):
            if any(match.start() < f.end and f.start < match.end() for f in found):
                continue
            if _VALID[kind](match.group()):
                found.append(Finding(kind, match.start(), match.end(), match.group()))
    return sorted(found, key=lambda f: f.start)


def mask(finding: Finding) -> str:
    """An example safe to show: enough to recognise the kind, never the value."""
    value = finding.text
    if finding.kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@***.{domain.rsplit('.', 1)[-1]}"
    if finding.kind == "iban":
        compact = value.replace(" ", "")
        return f"{compact[:2]}** **** {compact[-2:]}"
    digits = [c for c in value if c.isdigit()]
    return "*" * (len(digits) - 2) + "".join(digits[-2:])


def redact(text: str) -> str:
    """``text`` with each finding replaced by a placeholder (``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``)."""
    out, last = [], 0
    for finding in find_pii(text):
        out.append(text[last:finding.start])
        out.append(PLACEHOLDERS[finding.kind])
        last = finding.end
    out.append(text[last:])
    return "".join(out)


def scan(texts: list[str], examples: int = 5) -> dict:
    """Counts per kind, the number of texts holding any, and a few masked examples."""
    counts: Counter = Counter()
    texts_with, masked = 0, []
    for text in texts:
        findings = find_pii(text)
        if findings:
            texts_with += 1
        for finding in findings:
            counts[finding.kind] += 1
            if len(masked) < examples:
                masked.append({"kind": finding.kind, "example": mask(finding)})
    return {"counts": {kind: counts[kind] for kind in KINDS}, "texts_with_pii": texts_with, "examples": masked}
