"""Reading an operator's YAML file: one error shape for every file the tool reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reversal.errors import InputError


def read_yaml(path: Path, what: str) -> Any:
    """The parsed document; unreadable or invalid files become an ``InputError`` naming them."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror}).") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}).") from None
