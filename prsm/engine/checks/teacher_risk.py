"""The teacher's risk before it is distilled: its licence and intended use where it says, and
whether the job's domain is one that needs a moderator's approval."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .config import ChecksConfig
from .record import check_record

_KEYS = ("license", "licence", "license_name", "intended_use", "intended_uses", "domain", "tags", "pipeline_tag",
         "description", "out_of_scope_use", "limitations")


def teacher_metadata(teacher) -> dict:
    """Licence and intended-use fields from what the teacher carries: ``catalog.json``,
    ``config.json``, a model card's front matter (``README.md``) or ONNX ``metadata_props``."""
    found: dict = {}
    path = Path(getattr(teacher, "path", "") or "")
    folders = [path] if path.is_dir() else [path.parent] if str(path) else []
    if folders and (folders[0].parent / "catalog.json").is_file():
        folders.append(folders[0].parent)
    for folder in folders:
        for name in ("catalog.json", "config.json", "model.json"):
            found |= _json_fields(folder / name)
        found |= _front_matter(folder / "README.md")
    session = getattr(teacher, "session", None)
    if session is not None:
        props = session.get_modelmeta().custom_metadata_map
        found |= {k: v for k, v in props.items() if k in _KEYS}
    return {k: v for k, v in found.items() if v not in (None, "", [], {})}


def _json_fields(path: Path) -> dict:
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return {k: data[k] for k in _KEYS if isinstance(data, dict) and k in data}


def _front_matter(path: Path) -> dict:
    """``key: value`` lines (and ``- item`` lists) between the card's leading ``---`` fences."""
    try:
        text = path.read_text(errors="replace")[:20_000] if path.is_file() else ""
    except OSError:
        return {}
    if not text.startswith("---"):
        return {}
    block = text[3:].split("\n---", 1)[0]
    out: dict = {}
    key = None
    for line in block.splitlines():
        if re.match(r"^\s+-\s+", line) and key:
            out.setdefault(key, [])
            if isinstance(out[key], list):
                out[key].append(line.split("-", 1)[1].strip())
        elif ":" in line and not line.startswith(" "):
            key, value = (part.strip() for part in line.split(":", 1))
            out[key] = value.strip("'\"") if value else []
    return {k: v for k, v in out.items() if k in _KEYS}


def _text(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _mentions(text: str, phrases: list[str]) -> list[str]:
    text = text.lower()
    return [p for p in phrases if re.search(rf"(?<![a-z]){re.escape(p.lower())}(?![a-z])", text)]


def teacher_risk_check(teacher, config: ChecksConfig, domain: str | None = None) -> dict:
    """Findings that need a moderator: a restrictive licence, or a domain (the job's, or the
    teacher's intended use) on the configured restricted list. score = number of findings; passes at 0."""
    meta = teacher_metadata(teacher)
    licence = _text(meta.get("license") or meta.get("licence") or meta.get("license_name") or "")
    findings = []
    if licence and (hits := _mentions(licence, config.restrictive_licences)):
        findings.append(f"licence {licence!r} restricts use ({', '.join(hits)})")
    use = " ".join(_text(meta[k]) for k in ("intended_use", "intended_uses", "domain", "tags", "pipeline_tag") if k in meta)
    for source, text in (("the job's domain", domain or ""), ("the teacher's intended use", use)):
        if hits := _mentions(text, config.restricted_domains):
            findings.append(f"{source} is restricted ({', '.join(hits)}): a moderator must approve")
    notes = [f"licence {licence}" if licence else "no licence metadata",
             f"intended use: {use[:120]}" if use else "no intended-use metadata"]
    detail = "; ".join(findings) if findings else "nothing restricted; " + ", ".join(notes)
    return check_record(score=len(findings), threshold=0, passed=not findings, detail=detail, phase="before",
                        licence=licence or None, intended_use=use or None, domain=domain)
