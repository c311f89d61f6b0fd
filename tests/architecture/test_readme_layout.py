"""The README's architecture section and layout table follow the code (issue 15): every folder
of the tree and every module of `api/` and `knowledge_base/` has a row, every path a row names
exists, every HTTP router is named where the README lists them, and the chat contract lists
every `outcome` of `vocab.Outcome`."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

from vocab import Outcome

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Folders and modules a reader of the tree meets; the table may name a parent or the item itself.
LAYERED = ("api", "knowledge_base")
SKIP = {"__init__.py", "__pycache__"}


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


@cache
def layout_paths() -> list[str]:
    """The backticked paths of the layout table's first column."""
    rows = [line for line in section("Layout").splitlines() if line.startswith("| `")]
    assert rows, "the layout table has no rows"
    return [p.rstrip("/") for row in rows for p in re.findall(r"`([^`]+)`", row.split("|")[1])]


def tracked_top_level_folders() -> set[str]:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    return {f.split("/")[0] for f in files if "/" in f and not f.startswith(".")}


def covered(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in layout_paths())


def test_every_path_the_layout_table_names_exists() -> None:
    assert [p for p in layout_paths() if not (ROOT / p).exists()] == []


def test_every_folder_has_a_row() -> None:
    # a folder split over several rows (api/routes/, api/core/, ...) counts through them
    assert sorted(f for f in tracked_top_level_folders() if not covered(f) and not any(
        p.startswith(f + "/") for p in layout_paths())) == []


def test_every_module_and_package_of_the_layers_has_a_row() -> None:
    missing = []
    for layer in LAYERED:
        for item in sorted((ROOT / layer).iterdir()):
            name = f"{layer}/{item.name}"
            if item.name in SKIP or item.name.startswith("."):
                continue
            if item.is_dir() and not any(item.rglob("*")) or (
                    item.is_file() and item.suffix not in (".py", ".md")):
                continue
            if item.name == "README.md":
                continue
            if not covered(name):
                missing.append(name)
    assert missing == []


def test_every_router_is_named_in_the_diagram_and_the_table() -> None:
    routers = sorted(p.stem for p in (ROOT / "api" / "routes").glob("*.py")
                     if re.search(r"^router = APIRouter", p.read_text(encoding="utf-8"), re.M))
    assert routers, "no router modules found"
    diagram = re.search(r"api/routes/\*\s*\(([^)]*)\)", section("Architecture"))
    table = re.search(r"one router per resource \(([^)]*)\)", section("Layout"))
    assert diagram and table
    for listed in (diagram.group(1), table.group(1)):
        # the diagram wraps the list inside its box: drop the frame and the line breaks
        names = {n.strip(" │\n") for n in listed.split(",")}
        assert sorted(set(routers) - names) == []
        assert sorted(names - set(routers)) == []


def test_the_chat_contract_lists_every_outcome() -> None:
    contract = section("Chat API (contract)")
    bullet = next(b for b in contract.split("\n- ") if b.startswith("`outcome`"))
    assert sorted(o.value for o in Outcome if f"`{o.value}`" not in bullet) == []
