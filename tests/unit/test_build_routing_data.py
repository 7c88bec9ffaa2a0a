"""The data builder's readers, on a small repository made here (the real snapshots are not in
the test environment): what each keeps and drops, and that a rebuild gives the same rows."""

from __future__ import annotations

import csv
import io
import subprocess
import zipfile
from pathlib import Path

from openpyxl import Workbook
from scripts import build_routing_data as build


def _snapshot(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, str]:
    """A mirror laid out as the builder reads it (<mirror>/<owner>+<name>/repo), one commit."""
    work = tmp_path / "work"
    for name, data in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(data)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    git += ["-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "data"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    mirror = tmp_path / "mirror"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(work), str(mirror / "owner+data" / "repo")],
        check=True,
    )
    return mirror, commit


def _reddit_csv(posts: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["id", "title", "selftext", "is_self"])
    writer.writeheader()
    writer.writerows(posts)
    return out.getvalue().encode()


def test_reddit_posts_keep_self_posts_with_text_and_decode_entities(tmp_path: Path) -> None:
    posts = [
        {
            "id": "a",
            "title": "What am I?",
            "selftext": "I have keys &amp; no locks.",
            "is_self": "True",
        },
        {"id": "b", "title": "A picture", "selftext": "", "is_self": "False"},
        {"id": "c", "title": "Short", "selftext": "hi", "is_self": "True"},
        {
            "id": "d",
            "title": "Plain title",
            "selftext": "A statement, not a question.",
            "is_self": "True",
        },
    ]
    mirror, commit = _snapshot(tmp_path, {"data/riddles.csv": _reddit_csv(posts)})
    spec = {"repo": "owner/data", "commit": commit, "reader": "reddit", "path": "data/riddles.csv"}
    spec |= {"task": "reasoning", "min_chars": 10}
    rows = build.build_source(mirror, "r", spec, set())
    assert [r["prompt"] for r in rows] == [
        "What am I?\n\nI have keys & no locks.",
        "Plain title\n\nA statement, not a question.",
    ]
    assert rows[0]["origin"] == "data/riddles.csv:a"
    asked = build.build_source(mirror, "r", spec | {"questions": True}, set())
    assert [r["origin"] for r in asked] == ["data/riddles.csv:a"]
    typed = build.build_source(mirror, "r", spec | {"questions": True, "one_line": True}, set())
    assert [r["prompt"] for r in typed] == ["What am I? I have keys & no locks."]


def test_stack_exchange_questions_keep_a_titled_question_and_its_body(tmp_path: Path) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["title", "content", "tags"])
    writer.writeheader()
    writer.writerows(
        [
            {"title": "Transit visa in Serbia", "content": "Do I need one?", "tags": "visas"},
            {"title": "Why preheat?", "content": "The label says &quot;preheat&quot;.", "tags": ""},
            {"title": "Too short?", "content": "Why?", "tags": ""},
        ]
    )
    mirror, commit = _snapshot(tmp_path, {"data/cooking.csv": out.getvalue().encode()})
    spec = {"repo": "owner/data", "commit": commit, "reader": "stackexchange", "questions": True}
    spec |= {"path": "data/cooking.csv", "task": "knowledge", "min_chars": 10}
    rows = build.build_source(mirror, "se", spec, set())
    assert [(r["prompt"], r["origin"]) for r in rows] == [
        ('Why preheat?\n\nThe label says "preheat".', "data/cooking.csv:1")
    ]


def test_reddit_posts_are_read_from_every_file_named(tmp_path: Path) -> None:
    def post(i: str) -> dict[str, str]:
        return {"id": i, "title": f"Why {i}?", "selftext": f"Context for {i}.", "is_self": "True"}

    files = {"data/a.csv": _reddit_csv([post("a")]), "data/b.csv": _reddit_csv([post("b")])}
    mirror, commit = _snapshot(tmp_path, files)
    spec = {"repo": "owner/data", "commit": commit, "reader": "reddit", "paths": list(files)}
    spec |= {"task": "knowledge", "min_chars": 5, "questions": True}
    rows = build.build_source(mirror, "q", spec, set())
    assert [r["origin"] for r in rows] == ["data/a.csv:a", "data/b.csv:b"]
    assert {r["task"] for r in rows} == {"knowledge"}


def test_reddit_posts_take_their_task_from_the_subreddit_when_rules_are_given(
    tmp_path: Path,
) -> None:
    def post(i: str) -> dict[str, str]:
        return {"id": i, "title": f"How {i}?", "selftext": f"My attempt at {i}.", "is_self": "True"}

    files = {
        "data/learnpython.csv": _reddit_csv([post("a")]),
        "data/AskCulinary.csv": _reddit_csv([post("b")]),
    }
    mirror, commit = _snapshot(tmp_path, files)
    spec = {"repo": "owner/data", "commit": commit, "reader": "reddit", "paths": list(files)}
    spec |= {"rules": [["learnpython", "coding"], [".", "knowledge"]], "min_chars": 5}
    rows = build.build_source(mirror, "asks", spec, set())
    assert [(r["origin"], r["task"]) for r in rows] == [
        ("data/learnpython.csv:a", "coding"),
        ("data/AskCulinary.csv:b", "knowledge"),
    ]


def test_a_spreadsheet_in_a_zip_is_read_where_its_columns_match(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["sentence", "is_stressor", "Source"])
    sheet.append(["my rent went up again", 1, "mTurk_synthetic"])
    sheet.append(["?", 0, "popbots_live"])
    sheet.append(["a scraped diary line", 1, "Inquire"])
    sheet.append(["exams all week", 1, "popbots_live"])
    xlsx = io.BytesIO()
    book.save(xlsx)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as z:
        z.writestr("SAD.xlsx", xlsx.getvalue())
    mirror, commit = _snapshot(tmp_path, {"SAD.zip": packed.getvalue()})
    spec = {"repo": "owner/data", "commit": commit, "reader": "spreadsheet", "path": "SAD.zip"}
    spec |= {"member": "SAD.xlsx", "field": "sentence", "task": "chat"}
    spec["where"] = {"Source": ["mTurk_synthetic", "popbots_live"], "is_stressor": ["1"]}
    first = build.build_source(mirror, "s", spec, set())
    assert [r["prompt"] for r in first] == ["my rent went up again", "exams all week"]
    assert [r["origin"] for r in first] == ["SAD.zip:SAD.xlsx:2", "SAD.zip:SAD.xlsx:5"]
    assert build.build_source(mirror, "s", spec, set()) == first
