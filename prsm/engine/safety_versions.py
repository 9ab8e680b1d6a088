"""Refuse to run on library versions with known unsafe loading.

torch before 2.10 and onnx before 1.21 are refused: older ``torch.load`` releases had
``weights_only`` bypasses (CVE-2025-32434 among them) and older onnx releases followed
external-data paths out of the model's folder (CVE-2024-27318, CVE-2024-5187) or had
later-fixed parser flaws. The engine's pipeline calls :func:`require_safe_versions` first.
"""

from __future__ import annotations

from importlib import metadata

MINIMUM = {"torch": "2.10", "onnx": "1.21"}


class UnsafeLibraryVersion(RuntimeError):
    """An installed library is older than the minimum this engine loads models with."""


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def unsafe_versions() -> dict[str, str]:
    """{library: installed version} for each installed library below its minimum."""
    from packaging.version import Version

    found = {}
    for name, minimum in MINIMUM.items():
        version = installed_version(name)
        if version is not None and Version(version).release < Version(minimum).release:
            found[name] = version
    return found


_verified = False  # set once the installed versions passed; they do not change while running


def require_safe_versions() -> None:
    """Raise UnsafeLibraryVersion naming every library to upgrade; free after the first pass."""
    global _verified
    if _verified:
        return
    found = unsafe_versions()
    if found:
        names = ", ".join(f"{name} {version} (needs >= {MINIMUM[name]})" for name, version in found.items())
        raise UnsafeLibraryVersion(f"refusing to run with library versions that load models unsafely: {names}")
    _verified = True
