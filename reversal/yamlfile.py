"""Reading an operator's YAML file: one error shape for every file the tool reads.

Stricter than ``yaml.safe_load``: a key given twice in one mapping is refused (PyYAML keeps
the last one silently, so a second ``on_fail:`` would quietly win), and so are files too
large to be a configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reversal.errors import InputError

MAX_BYTES = 1024 * 1024


def _loader():
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: let PyYAML report it
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def parse_yaml(text: str, origin: str) -> Any:
    """The parsed document of ``text``; invalid YAML or a duplicate key is an ``InputError``
    naming ``origin`` and the line."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{origin}: not valid YAML{where} ({problem}).") from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. a bad timestamp scalar
        raise InputError(f"{origin}: not valid YAML ({type(exc).__name__}: {exc}).") from None


def read_yaml(path: Path, what: str) -> Any:
    """The parsed document; unreadable or invalid files become an ``InputError`` naming them."""
    try:
        if path.is_file() and path.stat().st_size > MAX_BYTES:
            raise InputError(f"{path}: the {what} is larger than {MAX_BYTES} bytes; expected a small "
                             "YAML file.")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc}).") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: the {what} is not UTF-8 text ({exc.reason} at byte {exc.start})."
        ) from None
    return parse_yaml(text, str(path))
