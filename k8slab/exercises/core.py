"""Mirrors: (no upstream file) the registry, ``check`` and ``hint`` behind every notebook's exercises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..kubectl import Text as _Text

_REGISTRY: dict[str, "Exercise"] = {}
_HINTS_SHOWN: dict[str, int] = {}


@dataclass
class Result:
    """The outcome of a check: shows as a short message in a notebook."""

    exercise: str
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        mark = "Correct" if self.correct else "Not yet"
        return f"[{self.exercise}] {mark}: {self.message}"

    def _repr_html_(self) -> str:
        import html

        colour = "#1b7f3b" if self.correct else "#b3261e"
        mark = "&#10004; Correct" if self.correct else "&#10008; Not yet"
        return (f'<div style="border-left:4px solid {colour};padding:4px 8px"><b style="color:{colour}">'
                f'[{self.exercise}] {mark}</b> {html.escape(self.message)}</div>')


@dataclass
class Exercise:
    id: str
    title: str
    question: str
    checker: Callable[..., tuple[bool, str]]
    hints: list[str] = field(default_factory=list)


def register(ex: Exercise) -> Exercise:
    _REGISTRY[ex.id] = ex
    return ex


def exercises(prefix: str = "") -> list[Exercise]:
    return [e for k, e in sorted(_REGISTRY.items()) if k.startswith(prefix)]


def _get(exercise_id: str) -> Exercise:
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f'no exercise "{exercise_id}"; known exercises: {known}') from None


def check(exercise_id: str, answer: Any = None, cluster: Any = None) -> Result:
    """Check ``answer`` to an exercise; never raises for a wrong or malformed answer."""
    ex = _get(exercise_id)
    try:
        ok, msg = ex.checker(answer, cluster)
    except Exception as e:  # a malformed answer is feedback, not a crash
        ok, msg = False, f"could not check that answer ({type(e).__name__}: {e})"
    return Result(exercise_id, ok, msg)


def hint(exercise_id: str) -> str:
    """The next hint for an exercise (the last one repeats)."""
    ex = _get(exercise_id)
    if not ex.hints:
        return _Text(f"[{exercise_id}] no hints for this one.")
    i = _HINTS_SHOWN.get(exercise_id, 0)
    _HINTS_SHOWN[exercise_id] = min(i + 1, len(ex.hints) - 1)
    return _Text(f"[{exercise_id}] hint {min(i, len(ex.hints) - 1) + 1}/{len(ex.hints)}: "
                 f"{ex.hints[min(i, len(ex.hints) - 1)]}")


def reset_hints() -> None:
    _HINTS_SHOWN.clear()
