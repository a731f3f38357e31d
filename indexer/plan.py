"""Review plans: which pictures of each duplicate group to keep and which to trash, and carrying
a plan out by moving trashed files into a trash folder (never deleting), with an undo.

A plan is a JSON file (``to_dict``)::

    {"lookalike_plan": 1, "index": "/abs/index", "created": 1764662400.0, "rule": "largest-resolution",
     "groups": [{"keep": ["/a.jpg"], "trash": ["/a-copy.jpg"]}]}

Applying it writes a journal beside it (``PLAN.journal.json``) *before* each move, so a crash
at any point leaves every file either where it was or named in the journal, and ``undo`` puts
back whatever the journal says was moved.
"""

from __future__ import annotations

__all__ = [
    "PLAN_VERSION", "PRESELECT_RULES", "Plan", "PlanGroup", "PlanError", "ApplyReport", "MovedFile",
    "preselect", "apply_plan", "undo_plan", "journal_path", "group_pictures",
]

import json
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .errors import PlanError
from .results import Picture

if TYPE_CHECKING:  # pragma: no cover
    from .index import Index

PLAN_VERSION = 1
#: How :func:`preselect` picks the one picture of a group to keep (ties go to the first path).
PRESELECT_RULES = ("largest-resolution", "largest-file", "oldest")
TRASH_FOLDER = "trash"


@dataclass(frozen=True)
class PlanGroup:
    keep: list[str]
    trash: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"keep": list(self.keep), "trash": list(self.trash)}


@dataclass(frozen=True)
class Plan:
    """What to keep and trash, group by group. Every group keeps at least one picture and a
    path appears once in the whole plan (checked when made and when read)."""

    groups: list[PlanGroup]
    index: str = ""
    rule: str = ""
    created: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for i, g in enumerate(self.groups, 1):
            if not g.keep and g.trash:
                raise PlanError(f"group {i} of the plan trashes every picture it has: keep at least one",
                                group=i)
            for p in [*g.keep, *g.trash]:
                if not isinstance(p, str) or not os.path.isabs(p):
                    raise PlanError(f"the plan names {p!r}, which is not an absolute path", path=str(p))
                if p in seen:
                    raise PlanError(f"the plan names {p} twice", path=p)
                seen.add(p)

    @property
    def trashed(self) -> list[str]:
        return [p for g in self.groups for p in g.trash]

    def to_dict(self) -> dict[str, Any]:
        return {"lookalike_plan": PLAN_VERSION, "index": self.index, "created": self.created, "rule": self.rule,
                "groups": [g.to_dict() for g in self.groups]}

    @classmethod
    def from_dict(cls, d: Any) -> "Plan":
        if not isinstance(d, dict) or d.get("lookalike_plan") != PLAN_VERSION or not isinstance(d.get("groups"), list):
            raise PlanError(f"not a lookalike plan (version {PLAN_VERSION}): it needs \"lookalike_plan\": "
                            f"{PLAN_VERSION} and a list of \"groups\"")
        groups = []
        for g in d["groups"]:
            if not isinstance(g, dict) or not all(isinstance(g.get(k, []), list) for k in ("keep", "trash")):
                raise PlanError("each group of a plan is {\"keep\": [paths], \"trash\": [paths]}")
            groups.append(PlanGroup(list(g.get("keep", [])), list(g.get("trash", []))))
        created = d.get("created")
        return cls(groups, index=str(d.get("index") or ""), rule=str(d.get("rule") or ""),
                   created=float(created) if isinstance(created, (int, float)) else time.time())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically (a temporary file renamed over ``path``)."""
        return _write_json(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Plan":
        try:
            data = json.loads(Path(path).read_bytes())
        except FileNotFoundError:
            raise PlanError(f"no plan file at {path}", code="plan-not-found", path=str(path)) from None
        except (OSError, ValueError) as exc:
            raise PlanError(f"cannot read the plan {path}: {exc}", path=str(path)) from None
        return cls.from_dict(data)


def preselect(groups: Sequence[Sequence[Picture]], rule: str, index: str = "") -> Plan:
    """A plan keeping, in each group, the one picture ``rule`` prefers (see
    :data:`PRESELECT_RULES`) and trashing the others."""
    if rule not in PRESELECT_RULES:
        raise PlanError(f"unknown rule {rule!r}: use one of {', '.join(PRESELECT_RULES)}", code="bad-rule", rule=rule)
    keys = {
        "largest-resolution": lambda p: (-p.width * p.height, -p.size, p.path),
        "largest-file": lambda p: (-p.size, -p.width * p.height, p.path),
        "oldest": lambda p: (p.mtime_ns, p.path),
    }
    out = []
    for g in groups:
        if not g:
            continue
        best = min(g, key=keys[rule])
        out.append(PlanGroup([best.path], sorted(p.path for p in g if p.path != best.path)))
    return Plan(out, index=index, rule=rule)


@dataclass(frozen=True)
class MovedFile:
    source: str  # where the picture was indexed
    trashed: str  # where it is in the trash folder

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.trashed}


@dataclass(frozen=True)
class ApplyReport:
    """What applying (or undoing) a plan did: ``moved`` files, and ``skipped`` ones with a
    reason (``missing``, ``changed``, ``not-indexed``, ``not-a-file``, ``occupied``, ``failed``)."""

    plan: str
    trash_dir: str
    moved: list[MovedFile]
    skipped: list[tuple[str, str]]
    dry_run: bool = False
    undo: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "trash_dir": self.trash_dir, "undo": self.undo, "dry_run": self.dry_run,
                "moved": [m.to_dict() for m in self.moved],
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped]}


def journal_path(plan_path: str | os.PathLike[str]) -> Path:
    p = Path(plan_path)
    return p.with_name(p.name + ".journal.json")


def apply_plan(index: "Index", plan_path: str | os.PathLike[str], trash_dir: str | os.PathLike[str] | None = None,
               dry_run: bool = False) -> ApplyReport:
    """Move every picture the plan trashes into ``trash_dir`` (default: ``trash/`` in the
    index folder), under its own absolute path, so nothing collides and :func:`undo_plan` knows
    where each goes back. Only pictures of this index whose file is unchanged since indexing
    are moved (the one the user looked at); the moved pictures leave the index."""
    plan = Plan.load(plan_path)
    with index.writing():  # nothing moves unless the index can follow
        return _apply(index, plan, plan_path, trash_dir, dry_run)


def _apply(index: "Index", plan: Plan, plan_path: str | os.PathLike[str],
           trash_dir: str | os.PathLike[str] | None, dry_run: bool) -> ApplyReport:
    trash = Path(trash_dir).expanduser().resolve() if trash_dir else (index.directory / TRASH_FOLDER).resolve()
    trash_root = trash / Path(plan_path).stem
    known = {p.path: p for p in index.pictures(paths=plan.trashed)}
    journal = _read_journal(plan_path)
    moved: list[MovedFile] = []
    skipped: list[tuple[str, str]] = []
    for path in plan.trashed:
        pic = known.get(path)
        reason = _why_not(path, pic)
        target = trash_root / path.lstrip(os.sep)
        if reason is None and os.path.lexists(target):
            reason = "occupied"
        if reason is not None:
            skipped.append((path, reason))
            continue
        if not dry_run:
            journal["moves"].append({"from": path, "to": str(target), "state": "moving"})
            journal["trash_dir"] = str(trash)
            _write_json(journal_path(plan_path), journal)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
            except OSError as exc:
                journal["moves"][-1]["state"] = "failed"
                _write_json(journal_path(plan_path), journal)
                skipped.append((path, f"failed: {exc.strerror or exc}"))
                continue
            journal["moves"][-1]["state"] = "moved"
            _write_json(journal_path(plan_path), journal)
        moved.append(MovedFile(path, str(target)))
    if moved and not dry_run:
        index.forget(m.source for m in moved)
    return ApplyReport(str(plan_path), str(trash), moved, skipped, dry_run=dry_run)


def undo_plan(index: "Index", plan_path: str | os.PathLike[str], dry_run: bool = False) -> ApplyReport:
    """Put back every file the plan's journal moved, and index them again. A file whose place
    has been taken meanwhile stays in the trash (``occupied``)."""
    journal = _read_journal(plan_path)
    if not journal["moves"]:
        raise PlanError(f"nothing to undo: the plan {plan_path} has not moved any file",
                        code="nothing-to-undo", path=str(plan_path))
    with index.writing():
        return _undo(index, journal, plan_path, dry_run)


def _undo(index: "Index", journal: dict[str, Any], plan_path: str | os.PathLike[str], dry_run: bool) -> ApplyReport:
    moved: list[MovedFile] = []
    skipped: list[tuple[str, str]] = []
    for entry in journal["moves"]:
        if entry.get("state") not in ("moving", "moved"):
            continue
        src, dst = entry["from"], entry["to"]
        if not os.path.lexists(dst):
            if entry["state"] == "moving" and os.path.lexists(src):  # the crash came before the move
                entry["state"] = "restored"
                continue
            skipped.append((src, "missing"))
            continue
        if os.path.lexists(src):
            skipped.append((src, "occupied"))
            continue
        if not dry_run:
            try:
                Path(src).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(dst, src)
            except OSError as exc:
                skipped.append((src, f"failed: {exc.strerror or exc}"))
                continue
            entry["state"] = "restored"
            _write_json(journal_path(plan_path), journal)
        moved.append(MovedFile(src, dst))
    if moved and not dry_run:
        index.add([m.source for m in moved])
    return ApplyReport(str(plan_path), str(journal.get("trash_dir", "")), moved, skipped, dry_run=dry_run, undo=True)


def _why_not(path: str, pic: Picture | None) -> str | None:
    """Why an indexed picture must not be moved, or None when it may."""
    if pic is None:
        return "not-indexed"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"
    if not stat.S_ISREG(st.st_mode):
        return "not-a-file"
    if st.st_size != pic.size or st.st_mtime_ns != pic.mtime_ns:
        return "changed"
    return None


def _read_journal(plan_path: str | os.PathLike[str]) -> dict[str, Any]:
    jp = journal_path(plan_path)
    try:
        data = json.loads(jp.read_bytes())
    except FileNotFoundError:
        return {"plan": str(plan_path), "moves": []}
    except (OSError, ValueError) as exc:
        raise PlanError(f"cannot read the journal {jp}: {exc}", path=str(jp)) from None
    if not isinstance(data, dict) or not isinstance(data.get("moves"), list):
        raise PlanError(f"{jp} is not a lookalike journal", path=str(jp))
    return data


def _write_json(path: Path, data: Any) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def group_pictures(index: "Index", groups: Iterable[Sequence[str]]) -> list[list[Picture]]:
    """The catalog's facts for each group of paths (pictures no longer indexed are left out)."""
    groups = [list(g) for g in groups]
    facts = {p.path: p for p in index.pictures(paths=[p for g in groups for p in g])}
    return [[facts[p] for p in g if p in facts] for g in groups]
