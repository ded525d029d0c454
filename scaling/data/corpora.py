"""Text corpora: the built-in ``prose`` and ``code`` (offline, from the installed packages) and
user corpora (``*.txt`` / ``*.jsonl`` / ``*.parquet``, optionally Hugging Face ``datasets``).

* ``prose``: docstrings of the installed stdlib and of numpy, scipy, pandas (read with ``ast``,
  never imported), one document per module (its docstrings joined by blank lines), plus the
  ``pydoc_data`` topics (one document per topic). Source = module name (``numpy.linalg``).
* ``code``: Python source files of the same packages (tests excluded), one document per file,
  files over 200 kB skipped. Source = module name.

Split: a document is held out (``val``) when ``sha256(text) mod 100 < VAL_PERCENT``
(deterministic, independent of order and of the package set); a corpus whose split would be
empty moves its lowest-hash document to ``val``. Provenance (:func:`provenance`) records the
Python and package versions, the file count and a sha256 over all document texts.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import importlib.util
import json
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import ScalingError

VAL_PERCENT = 5
BUILTIN_CORPORA = ("prose", "code")
PACKAGES = ("numpy", "scipy", "pandas")
_MAX_FILE = 200_000


class CorpusError(ScalingError, ValueError):
    """A user corpus that cannot be read (no files, missing text field, empty)."""


@dataclass(frozen=True)
class Document:
    text: str
    source: str
    split: str  # "train" | "val"


def split_of(text: str) -> str:
    h = int.from_bytes(hashlib.sha256(text.encode("utf-8", "replace")).digest()[:8], "big")
    return "val" if h % 100 < VAL_PERCENT else "train"


def _roots() -> list[tuple[str, Path]]:
    roots = [("", Path(sysconfig.get_paths()["stdlib"]))]
    for pkg in PACKAGES:
        spec = importlib.util.find_spec(pkg)
        if spec is not None and spec.origin:
            roots.append((pkg, Path(spec.origin).parent))
    return roots


def _python_files() -> Iterator[tuple[str, Path]]:
    for pkg, root in _roots():
        for f in sorted(root.rglob("*.py")):
            rel = f.relative_to(root)
            parts = rel.parts
            if any(p in ("test", "tests", "site-packages", "idlelib", "lib2to3") or
                   p.startswith("_vendor") for p in parts[:-1]):
                continue
            mod = ".".join((pkg,) * bool(pkg) + parts[:-1] + (rel.stem,))
            yield mod.removesuffix(".__init__"), f


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _docstrings(src: str) -> list[str]:
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            d = ast.get_docstring(node)
            if d and len(d) > 20:
                out.append(d)
    return out


def _raw_builtin(name: str) -> Iterator[tuple[str, str]]:
    if name == "prose":
        try:
            from pydoc_data.topics import topics
        except ImportError:  # pragma: no cover - stripped Python builds
            topics = {}
        for key in sorted(topics):
            yield topics[key].strip(), f"docs.python.org/{key}"
    for mod, f in _python_files():
        try:
            if f.stat().st_size > _MAX_FILE:
                continue
            src = f.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if name == "code":
            if src.strip():
                yield src, mod
        else:
            docs = _docstrings(src)
            if docs:
                yield "\n\n".join(docs), mod


def _with_split(raw: Iterator[tuple[str, str]]) -> list[Document]:
    docs = [Document(t, s, split_of(t)) for t, s in raw if t.strip()]
    for want in ("val", "train"):
        if len(docs) >= 2 and not any(d.split == want for d in docs):
            i = min(range(len(docs)), key=lambda j: hashlib.sha256(docs[j].text.encode()).digest())
            docs[i] = Document(docs[i].text, docs[i].source, want)
    return docs


def builtin_documents(name: str) -> list[Document]:
    """All documents of ``prose`` or ``code`` with their split (deterministic order)."""
    if name not in BUILTIN_CORPORA:
        raise CorpusError(f"unknown built-in corpus {name!r}; known: {', '.join(BUILTIN_CORPORA)}")
    return _with_split(_raw_builtin(name))


def builtin_fingerprint(name: str) -> dict:
    """What the cached token arrays of a built-in corpus depend on (cheap: no file reads)."""
    return {"corpus": name, "versions": versions(), "roots": [str(r) for _, r in _roots()],
            "val_percent": VAL_PERCENT, "format": 2}


# --------------------------------------------------------------------------- user corpora


def _user_files(path: str) -> list[Path]:
    p = Path(path).expanduser()
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix in (".txt", ".jsonl", ".parquet"))
    elif any(ch in path for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(str(p), recursive=True))
    else:
        files = [p] if p.exists() else []
    files = [f for f in files if f.is_file()]
    if not files:
        raise CorpusError(f"user corpus path {path!r} matches no files; give a file, a "
                          "directory or a glob of *.txt / *.jsonl / *.parquet")
    bad = [f.name for f in files if f.suffix not in (".txt", ".jsonl", ".parquet")]
    if bad:
        raise CorpusError(f"user corpus {path!r}: unsupported file(s) {bad[:3]}; use .txt, "
                          ".jsonl or .parquet")
    return files


def _user_raw(path: str, field: str) -> Iterator[tuple[str, str]]:
    if path.startswith("hf:"):
        yield from _hf_raw(path[3:], field)
        return
    for f in _user_files(path):
        if f.suffix == ".txt":
            yield f.read_text("utf-8", errors="replace"), f.name
        elif f.suffix == ".jsonl":
            with f.open(encoding="utf-8") as fh:
                for i, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise CorpusError(f"{f}:{i}: not JSON ({e.msg})") from None
                    if not isinstance(rec, dict) or field not in rec:
                        keys = sorted(rec) if isinstance(rec, dict) else []
                        raise CorpusError(f"{f}:{i} has no text field {field!r} (keys: {keys}); "
                                          f"write NAME@PATH:FIELD=WEIGHT")
                    src = rec.get("url") or rec.get("source") or f"{f.name}:{i}"
                    yield str(rec[field]), str(src)
        else:
            import pyarrow.parquet as pq

            table = pq.read_table(f)
            if field not in table.column_names:
                raise CorpusError(f"{f} has no text column {field!r} (columns: "
                                  f"{table.column_names}); write NAME@PATH:FIELD=WEIGHT")
            srcs = (table.column("url").to_pylist() if "url" in table.column_names else None)
            for i, t in enumerate(table.column(field).to_pylist()):
                if t:
                    yield str(t), str(srcs[i]) if srcs and srcs[i] else f"{f.name}:{i}"


def _hf_raw(name: str, field: str) -> Iterator[tuple[str, str]]:
    try:
        import datasets
    except ImportError:
        raise CorpusError("a hf: corpus needs the optional package 'datasets' "
                          "(pip install datasets)") from None
    ds_name, _, config = name.partition("/")
    ds = datasets.load_dataset(ds_name, config or None, split="train")
    if field not in ds.column_names:
        raise CorpusError(f"dataset {name!r} has no text field {field!r} "
                          f"(columns: {ds.column_names})")
    for i, rec in enumerate(ds):
        if rec[field]:
            yield str(rec[field]), str(rec.get("url") or f"{name}:{i}")


def user_documents(path: str, field: str = "text") -> list[Document]:
    """Documents of a user corpus, split by document hash; errors name the file and field."""
    docs = _with_split(_user_raw(path, field))
    if not docs:
        raise CorpusError(f"user corpus {path!r} holds no non-empty text")
    return docs


def user_fingerprint(path: str, field: str) -> dict:
    if path.startswith("hf:"):
        return {"hf": path, "field": field, "format": 2}
    files = _user_files(path)
    return {"files": [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files],
            "field": field, "val_percent": VAL_PERCENT, "format": 2}


def check_user_paths(recipe) -> None:
    """Refuse a recipe whose user corpus paths match no usable file (before any run starts)."""
    for c in recipe.corpora:
        if not c.path.startswith("hf:"):
            _user_files(c.path)
