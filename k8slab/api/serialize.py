"""Mirrors: staging/src/k8s.io/apimachinery/pkg/util/yaml/decoder.go (document splitting),
sigs.k8s.io/yaml (YAML -> JSON), staging/src/k8s.io/cli-runtime/pkg/printers/yaml.go and json.go

Reading manifests and printing objects the way kubectl does.

``load_manifests`` accepts what ``kubectl apply -f`` accepts: YAML or JSON text with several
documents separated by ``---``, a file or directory path, or dicts. ``kind: List`` documents
are expanded into their items.

``to_yaml`` and ``to_json`` print like ``kubectl get -o yaml`` / ``-o json``. kubectl goes
through a JSON map, so keys come out sorted at every level (which is why ``apiVersion``,
``kind``, ``metadata``, ``spec``, ``status`` appear in that order, and why a ConfigMap
shows ``data`` before ``kind``). Strings that would read back as something else, such as
``"1"`` or a timestamp, are double-quoted, as go-yaml does.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
from typing import Any, Iterable

import yaml

from .errors import StatusError, new_bad_request

_YAML_SUFFIXES = (".yaml", ".yml", ".json")

# --- loading -------------------------------------------------------------------------------------

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that keeps timestamps as strings (sigs.k8s.io/yaml converts to JSON strings)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# go-yaml wording for the problems PyYAML names differently
_PROBLEM_TEXT = [
    ("mapping values are not allowed here", "mapping values are not allowed in this context"),
    ("that cannot start any token", "found character that cannot start any token"),
    ("found a tab character that violates indentation", "found character that cannot start any token"),
    ("expected <block end>", "did not find expected key"),
    ("found undefined alias", "unknown anchor referenced"),
]


def _yaml_error_message(err: yaml.YAMLError) -> str:
    problem = getattr(err, "problem", None) or "unknown problem parsing YAML content"
    for needle, text in _PROBLEM_TEXT:
        if needle in problem:
            problem = text
            break
    problem_mark = getattr(err, "problem_mark", None)
    context_mark = getattr(err, "context_mark", None)
    line = 0
    if problem_mark is not None and problem_mark.line != 0:
        line = problem_mark.line
        if isinstance(err, yaml.scanner.ScannerError):  # go-yaml counts scanner lines from 1
            line += 1
    elif context_mark is not None and context_mark.line != 0:
        line = context_mark.line
    where = f"line {line}: " if line else ""
    return f"error converting YAML to JSON: yaml: {where}{problem}"


def split_documents(text: str) -> list[str]:
    """Split on ``---`` separator lines like the API machinery YAML reader."""
    docs, current = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("---"):
            rest = line[3:].strip()
            if not rest or rest.startswith("#"):
                docs.append("".join(current))
                current = []
                continue
        current.append(line)
    docs.append("".join(current))
    return docs


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else _scalar_key(k)): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_keys(v) for v in value]
    return value


def _scalar_key(k: Any) -> str:
    if k is None:
        return "null"
    if isinstance(k, bool):
        return "true" if k else "false"
    return str(k)


_GO_TYPE = {str: "string", int: "number", float: "number", bool: "bool", list: "array"}


def _check_object(doc: Any) -> dict:
    if not isinstance(doc, dict):
        go_type = _GO_TYPE.get(type(doc), "value")
        raise new_bad_request(
            f"json: cannot unmarshal {go_type} into Go value of type map[string]interface {{}}")
    as_json = json.dumps(doc, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if not doc.get("kind"):
        raise new_bad_request(f"Object 'Kind' is missing in '{as_json}'")
    if not doc.get("apiVersion"):
        raise new_bad_request(f"Object 'apiVersion' is missing in '{as_json}'")
    return doc


def _expand(doc: Any) -> list[dict]:
    obj = _check_object(doc)
    kind = obj.get("kind", "")
    if kind.endswith("List") and isinstance(obj.get("items"), list):
        out: list[dict] = []
        for item in obj["items"]:
            out.extend(_expand(item))
        return out
    return [obj]


def _parse_text(text: str) -> list[dict]:
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except ValueError:
            pass
        else:
            docs = data if isinstance(data, list) else [data]
            return [o for d in docs for o in _expand(d)]
    out: list[dict] = []
    for chunk in split_documents(text):
        if not chunk.strip():
            continue
        try:
            doc = yaml.load(chunk, Loader=_Loader)
        except yaml.YAMLError as err:
            raise new_bad_request(_yaml_error_message(err)) from None
        if doc is None:
            continue
        out.extend(_expand(_stringify_keys(doc)))
    return out


def _read_path(path: pathlib.Path) -> list[dict]:
    if path.is_dir():
        out: list[dict] = []
        for child in sorted(path.iterdir()):
            if child.suffix in _YAML_SUFFIXES and child.is_file():
                out.extend(_read_path(child))
        return out
    if not path.exists():
        raise new_bad_request(f'the path "{path}" does not exist')
    return _parse_text(path.read_text())


def load_manifests(source: Any) -> list[dict]:
    """Objects from YAML/JSON text, a path, a dict or a list of dicts (``kubectl apply -f``).

    Empty documents are skipped and ``*List`` documents expanded. Malformed input raises a
    ``StatusError`` (400 BadRequest) with kubectl's wording.
    """
    if isinstance(source, dict):
        return _expand(source)
    if isinstance(source, (list, tuple)):
        out: list[dict] = []
        for item in source:
            out.extend(load_manifests(item))
        return out
    if isinstance(source, pathlib.PurePath):
        return _read_path(pathlib.Path(source))
    if isinstance(source, bytes):
        source = source.decode()
    if not isinstance(source, str):
        raise new_bad_request(f"cannot read manifests from {type(source).__name__}")
    if "\n" not in source and source.strip():
        candidate = source.strip()
        if os.path.exists(candidate) or candidate.endswith(_YAML_SUFFIXES):
            return _read_path(pathlib.Path(candidate))
    return _parse_text(source)


# --- printing ------------------------------------------------------------------------------------

_FIRST_KEYS = ("apiVersion", "kind", "metadata", "spec", "status")


def _ordered_items(d: dict, sort_keys: bool, top: bool) -> list:
    if sort_keys:
        return sorted(d.items(), key=lambda kv: str(kv[0]))
    if top:
        first = [(k, d[k]) for k in _FIRST_KEYS if k in d]
        return first + [(k, v) for k, v in d.items() if k not in _FIRST_KEYS]
    return list(d.items())


_INT_RE = re.compile(r"^[-+]?(0|[1-9][0-9_]*|0b[01_]+|0x[0-9a-fA-F_]+|0[0-7_]+)$")
_FLOAT_RE = re.compile(r"^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOAT_RE = re.compile(r"^([-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")
_BASE60_RE = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_TIMESTAMP_RE = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::?[0-9]{2})?))?)?$")
_RESERVED = {"", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE",
             "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
             "on", "On", "ON", "off", "Off", "OFF", "<<", "="}


def _resolves_to_non_string(s: str) -> bool:
    return (s in _RESERVED or bool(_INT_RE.match(s)) or bool(_FLOAT_RE.match(s))
            or bool(_SPECIAL_FLOAT_RE.match(s)) or bool(_BASE60_RE.match(s))
            or bool(_TIMESTAMP_RE.match(s)))


def _plain_allowed(s: str) -> bool:
    """The go-yaml emitter's analysis: may this string be written without quotes?"""
    if s.startswith(("---", "...")) or s != s.strip(" \t") or s[0] in " \t":
        return False
    n = len(s)
    for i, ch in enumerate(s):
        followed_ws = i + 1 >= n or s[i + 1] in " \t\r\n"
        preceded_ws = i > 0 and s[i - 1] in " \t"
        if not ch.isprintable():
            return False
        if i == 0:
            if ch in "#,[]{}&*!|>'\"%@`":
                return False
            if ch in "?:-" and followed_ws:
                return False
        else:
            if ch == ":" and followed_ws:
                return False
            if ch == "#" and preceded_ws:
                return False
    return True


def _double_quoted(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _single_quoted(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text:
            mant, exp = text.split("e")
            return f"{mant}e{'-' if exp.startswith('-') else '+'}{abs(int(exp)):02d}"
        return text[:-2] if text.endswith(".0") else text
    s = str(value)
    if _resolves_to_non_string(s):
        return _double_quoted(s)
    if not all(ch.isprintable() or ch in "\t" for ch in s):
        return _double_quoted(s)
    if _plain_allowed(s):
        return s
    return _single_quoted(s)


def _literal(s: str, indent: str) -> list[str]:
    if s.endswith("\n\n"):
        header, body = "|+", s[:-1]
    elif s.endswith("\n"):
        header, body = "|", s[:-1]
    else:
        header, body = "|-", s
    if body[:1] in (" ", "\n"):
        header = header[0] + "2" + header[1:]
    lines = [header]
    lines.extend((indent + "  " + ln) if ln else "" for ln in body.split("\n"))
    return lines


def _is_block_string(v: Any) -> bool:
    return isinstance(v, str) and "\n" in v and all(ch.isprintable() or ch in "\n\t" for ch in v)


def _emit(value: Any, indent: str, out: list[str], sort_keys: bool, top: bool = False) -> None:
    """Append lines for a mapping or sequence value at the given indentation."""
    if isinstance(value, dict):
        for k, v in _ordered_items(value, sort_keys, top):
            _emit_entry(f"{indent}{_scalar(k)}:", v, indent, out, sort_keys, mapping=True)
    else:
        for v in value:
            _emit_entry(f"{indent}-", v, indent, out, sort_keys, mapping=False)


def _emit_entry(prefix: str, v: Any, indent: str, out: list[str], sort_keys: bool, mapping: bool) -> None:
    if isinstance(v, dict) and v:
        if mapping:
            out.append(prefix)
            _emit(v, indent + "  ", out, sort_keys)
        else:
            sub: list[str] = []
            _emit(v, indent + "  ", sub, sort_keys)
            out.append(prefix + " " + sub[0][len(indent) + 2:])
            out.extend(sub[1:])
    elif isinstance(v, list) and v:
        if mapping:
            out.append(prefix)
            _emit(v, indent, out, sort_keys)  # go-yaml does not indent a sequence under its key
        else:
            sub = []
            _emit(v, indent + "  ", sub, sort_keys)
            out.append(prefix + " " + sub[0][len(indent) + 2:])
            out.extend(sub[1:])
    elif isinstance(v, dict):
        out.append(prefix + " {}")
    elif isinstance(v, list):
        out.append(prefix + " []")
    elif _is_block_string(v):
        lines = _literal(v, indent)
        out.append(prefix + " " + lines[0])
        out.extend(lines[1:])
    else:
        out.append(prefix + " " + _scalar(v))


def to_yaml(obj: Any, sort_keys: bool = True) -> str:
    """Print an object (or a list of objects) like ``kubectl get -o yaml``.

    With ``sort_keys=False`` the top-level keys start with apiVersion, kind, metadata, spec,
    status and everything else keeps the order it was given in.
    """
    if isinstance(obj, (dict, list)) and obj:
        out: list[str] = []
        _emit(obj, "", out, sort_keys, top=True)
        return "\n".join(out) + "\n"
    if isinstance(obj, dict):
        return "{}\n"
    if isinstance(obj, list):
        return "[]\n"
    return _scalar(obj) + "\n"


def to_json(obj: Any) -> str:
    """Print like ``kubectl get -o json``: sorted keys, four-space indent, HTML-safe escapes."""
    text = json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text + "\n"


def dump_all(objs: Iterable[dict], sort_keys: bool = True) -> str:
    """Several objects as one multi-document YAML stream."""
    return "---\n".join(to_yaml(o, sort_keys) for o in objs)


__all__ = ["load_manifests", "to_yaml", "to_json", "dump_all", "split_documents", "StatusError"]
