"""Rebuild the router's public training data and benchmark file from repository snapshots.

    .venv/bin/python scripts/build_routing_data.py --mirror /work/.mirror

Each source in ``data/routing/sources.json`` names a public GitHub repository, the commit
read, its licence and how a row gets its task label. The snapshots are read with
``git --git-dir <mirror>/<owner>+<name>/repo show <commit>:<path>`` (the search tool's
``fetch`` brings them in), so the output depends only on those commits: fixed order, fixed
seed. Writes ``data/routing/train/public/<source>.jsonl``,
``data/routing/eval/benchmarks.jsonl`` and one file per "blind" benchmark and "held_out" set
(real prompts kept for evaluation), and prints the tables of SOURCES.md. Training rows that
repeat a benchmark or evaluation prompt are dropped. Some sources are sentences or records
rather than requests (Tatoeba, DailyDialog in other languages, WNUT17, DialogSum, HumanEval,
TRACIE, DebugBench, NL2Bash); those are wrapped in a request phrasing drawn from
``data/routing/wrappers.json``, and SOURCES.md says which.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import html
import io
import json
import random
import re
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "routing"
SEED = 20261201
MAX_CHARS = 2000  # the classifier reads the first 1,200 and last 300 characters anyway

Row = tuple[str, str, str]  # prompt, task, origin
Reader = Callable[["Snapshot", dict[str, Any], random.Random], Iterator[Row]]


class Snapshot:
    """One repository at one commit, read through git."""

    def __init__(self, mirror: Path, repo: str, commit: str) -> None:
        self.git_dir = mirror / repo.replace("/", "+") / "repo"
        if (self.git_dir / ".git").is_dir():  # some snapshots come as a work tree
            self.git_dir /= ".git"
        self.commit = commit
        if not self.git_dir.is_dir():
            raise SystemExit(f"{repo}: no snapshot at {self.git_dir} (fetch github:{repo})")

    def _git(self, *args: str) -> bytes:
        return subprocess.run(
            ["git", "--git-dir", str(self.git_dir), *args], check=True, capture_output=True
        ).stdout

    def read(self, path: str) -> bytes:
        return self._git("show", f"{self.commit}:{path}")

    def text(self, path: str) -> str:
        return self.read(path).decode("utf-8")

    def readable(self, path: str) -> bool:
        """Snapshots leave out files of 4 MiB or more: they are listed but cannot be read."""
        done = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "cat-file", "-e", f"{self.commit}:{path}"],
            capture_output=True,
        )
        return done.returncode == 0

    def listdir(self, path: str) -> list[str]:
        out = self._git("ls-tree", "--name-only", f"{self.commit}:{path}")
        return sorted(out.decode("utf-8").split())

    def listdir_recursive(self, path: str) -> list[str]:
        out = self._git("ls-tree", "-r", "--name-only", self.commit, "--", path)
        return sorted(out.decode("utf-8").split("\n")[:-1])


_QMSUM_MARK_RE = re.compile(r"\{[a-z]+\}")  # {disfmarker}, {vocalsound}: transcript markup


def _records(text: str) -> list[str]:
    """JSON Lines: split on newlines only (str.splitlines also splits inside strings)."""
    return [line for line in text.split("\n") if line.strip()]


def _label(rules: list[list[Any]], name: str) -> str | None:
    for pattern, task in rules:
        if re.search(pattern, name):
            return task
    return None


def _sample(rows: list[Row], limit: int | None, rng: random.Random) -> list[Row]:
    return rows if limit is None or len(rows) <= limit else rng.sample(rows, limit)


def _wrappers(kind: str) -> list[str]:
    return json.loads((DATA / "wrappers.json").read_text(encoding="utf-8"))[kind]


# ---------------------------------------------------------------------------- readers


def read_t0(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for name in snap.listdir(spec["path"]):
        task = _label(spec["rules"], name)
        if task is None:
            continue
        lines = _records(snap.text(f"{spec['path']}/{name}"))
        picked = sorted(rng.sample(range(len(lines)), min(spec["per_file"], len(lines))))
        for i in picked:
            yield json.loads(lines[i])["prompt"].strip(), task, f"{name}:{i}"


def read_jsonl(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    low, high = spec.get("id_range", (None, None))
    for i, line in enumerate(_records(snap.text(spec["path"]))):
        row = json.loads(line)
        if low is not None and not low <= int(row["task_id"]) <= high:
            continue
        yield row[spec["field"]], spec["task"], f"{spec['path']}:{i}"


def read_json_list(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    fields = spec.get("fields") or [spec["field"]]  # several fields are joined by a space
    for i, row in enumerate(json.loads(snap.text(spec["path"]))):
        yield " ".join(row[f].strip() for f in fields), spec["task"], f"{spec['path']}:{i}"


def read_wrapped_jsonl(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """A record's text (a dialogue, an article) wrapped in a request phrasing."""
    wrappers = _wrappers(spec["wrapper"])
    for i, line in enumerate(_records(snap.text(spec["path"]))):
        text = json.loads(line)[spec["field"]]
        yield rng.choice(wrappers).format(text=text), spec["task"], f"{spec['path']}:{i}"


def read_instruction_json(
    snap: Snapshot, spec: dict[str, Any], rng: random.Random
) -> Iterator[Row]:
    for i, row in enumerate(json.loads(snap.text(spec["path"]))):
        text = row["instruction"] + (f"\n\n{row['input']}" if row.get("input") else "")
        yield text, spec["task"], f"{spec['path']}:{i}"


def read_conala(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for i, row in enumerate(json.loads(snap.text(spec["path"]))):
        text = row.get("rewritten_intent") or row["intent"]
        yield text, spec["task"], f"{spec['path']}:{row.get('question_id', i)}"


def read_chitchat(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for path in spec["paths"]:
        reader = csv.DictReader(io.StringIO(snap.text(path)), delimiter="\t")
        for i, row in enumerate(reader):
            question = (row.get("Question") or "").strip()
            if question and not question.startswith("/"):
                yield question, spec["task"], f"{path}:{i}"


def read_chatterbot(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    import yaml  # a dev dependency (PyYAML, installed with cfn-lint)

    for name in snap.listdir(spec["path"]):
        task = _label(spec["rules"], name)
        if task is None:
            continue
        corpus = yaml.safe_load(snap.text(f"{spec['path']}/{name}"))
        for i, turns in enumerate(corpus.get("conversations") or []):
            if turns and isinstance(turns[0], str):
                yield turns[0], task, f"{name}:{i}"


def _dialogues(snap: Snapshot, path: str) -> list[list[str]]:
    return [
        [t.strip() for t in line.split("__eou__") if t.strip()]
        for line in snap.text(path).split("\n")
    ]


def read_dailydialog(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """Every other turn of an everyday dialogue (the opener's side), on its own."""
    for i, turns in enumerate(_dialogues(snap, spec["path"])):
        for k in range(0, len(turns), 2):
            yield turns[k], spec["task"], f"{spec['path']}:{i}:{k}"


def read_translation_dialogues(
    snap: Snapshot, spec: dict[str, Any], rng: random.Random
) -> Iterator[Row]:
    """A dialogue turn in one language, wrapped in a request to translate it into another."""
    langs = sorted(spec["paths"])
    texts = {lang: _dialogues(snap, spec["paths"][lang]) for lang in langs}
    wrappers = _wrappers("translation")
    for lang in langs:
        for i, turns in enumerate(texts[lang]):
            if not turns:
                continue
            k = rng.randrange(len(turns))
            target = rng.choice([x for x in langs if x != lang] + ["French", "Spanish"])
            text = rng.choice(wrappers).format(text=turns[k], source=lang, target=target)
            yield text, spec["task"], f"{spec['paths'][lang]}:{i}:{k}"


def read_tatoeba(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    wrappers = _wrappers("translation")
    for code, language in sorted(spec["languages"].items()):
        base = f"{spec['path']}/tatoeba.{code}-eng"
        foreign = snap.text(f"{base}.{code}").split("\n")
        english = snap.text(f"{base}.eng").split("\n")
        for i, (src, eng) in enumerate(zip(foreign, english, strict=False)):
            if rng.random() < 0.5:
                text, source, target = src, language, "English"
            else:
                text, source, target = eng, "English", language
            prompt = rng.choice(wrappers).format(text=text, source=source, target=target)
            yield prompt, spec["task"], f"{base}:{i}"


def read_conll(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """A tweet or comment from the NER corpus, wrapped in a request to pull out its entities."""
    wrappers = _wrappers("extraction")
    sentence: list[str] = []
    n = 0
    for line in [*snap.text(spec["path"]).split("\n"), ""]:
        if line.strip():
            sentence.append(line.split("\t")[0])
            continue
        if len(sentence) >= 6:
            text = " ".join(sentence)
            yield rng.choice(wrappers).format(text=text), spec["task"], f"{spec['path']}:{n}"
        sentence, n = [], n + 1


def read_babi(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """A bAbI story with its question: deduction, induction, paths, positions, counting."""
    for name in snap.listdir(spec["path"]):
        if not name.endswith("_train.txt") or not snap.readable(f"{spec['path']}/{name}"):
            continue
        story: list[str] = []
        for i, line in enumerate(snap.text(f"{spec['path']}/{name}").split("\n")):
            number, _, text = line.partition(" ")
            if number == "1":
                story = []
            if "\t" in text:
                question = text.split("\t")[0].strip()
                yield "\n".join([*story, question]), spec["task"], f"{name}:{i}"
            else:
                story.append(text.strip())


def read_riddlesense(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for line in _records(snap.text(spec["path"])):
        row = json.loads(line)
        yield row["question"]["stem"], spec["task"], row["id"]


def read_act_prompts(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for i, row in enumerate(csv.DictReader(io.StringIO(snap.text(spec["path"])))):
        task = _label(spec["rules"], row["act"])
        if task:
            yield row["prompt"], task, f"{spec['path']}:{i}:{row['act']}"


def read_instructionwild(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for path in spec["paths"]:
        for i, line in enumerate(_records(snap.text(path))):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            text = row["instruction"]
            task = _label(spec["rules"], str(row.get("instruction_type", "")))
            task = task or _label(spec["text_rules"], text[:300].lower())
            if task:
                yield text, task, f"{path}:{i}"


def read_user_oriented(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for line in _records(snap.text(spec["path"])):
        row = json.loads(line)
        text = row["instruction"]
        task = _label(spec["rules"], row["motivation_app"])
        task = task or _label(spec["text_rules"], text[:300].lower())
        if task:
            instance = row["instances"][0]["input"]
            yield text + (f"\n\n{instance}" if instance else ""), task, row["id"]


def read_fastchat(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for line in _records(snap.text(spec["path"])):
        row = json.loads(line)
        task = _label(spec["rules"], row["category"])
        if task:
            yield row["turns"][0], task, f"{row['category']}:{row['question_id']}"


def read_wizardlm(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for line in _records(snap.text(spec["path"])):
        row = json.loads(line)
        task = _label(spec["rules"], row["Skill"])
        if task:
            yield row["Instruction"], task, f"{row['Skill']}:{row['idx']}"


def read_humaneval(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """HumanEval as users paste it: an instruction, then the signature and docstring."""
    lines = _records(gzip.decompress(snap.read(spec["path"])).decode("utf-8"))
    lead = _wrappers("complete_function")
    for line in lines:
        row = json.loads(line)
        prompt = rng.choice(lead) + "\n\n" + row["prompt"].strip("\n")
        yield prompt, spec["task"], row["task_id"]


def read_bbh(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """BIG-Bench Hard: a task per file; the file name is the task, mapped by the rules."""
    for name in snap.listdir(spec["path"]):
        task = _label(spec["rules"], name)
        if task is None:
            continue
        examples = json.loads(snap.text(f"{spec['path']}/{name}"))["examples"]
        for i in sorted(rng.sample(range(len(examples)), min(spec["per_file"], len(examples)))):
            yield examples[i]["input"], task, f"{name}:{i}"


def _with_choices(question: str, choices: list[str], rng: random.Random) -> str:
    """A multiple-choice question as a user asks it: half the time with its options listed."""
    if not choices or rng.random() < 0.5:
        return question
    return question + "\n" + "\n".join(f"{'ABCDEFGH'[k]}) {c}" for k, c in enumerate(choices))


def read_dolly(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """Databricks' Dolly: requests written by people, labelled by their `category`; a request
    that comes with a text to work on is labelled by `context_rules` instead, which read
    "category: instruction" (a question asked of the text is extraction, whatever its
    writer filed it under)."""
    for path in spec["paths"]:
        for i, row in enumerate(json.loads(snap.text(path))):
            context = (row.get("context") or "").strip()
            task = (
                _label(spec["context_rules"], f"{row['category']}: {row['instruction'].strip()}")
                if context
                else _label(spec["rules"], row["category"])
            )
            if task:
                text = row["instruction"].strip() + (f"\n\n{context}" if context else "")
                yield text, task, f"{path}:{i}:{row['category']}"


def read_qmsum(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """QMSum: queries annotators wrote about meeting transcripts, each followed by the turns
    it is about (the whole meeting for a general query), labelled by the query's wording."""
    for split in spec["splits"]:
        for path in snap.listdir_recursive(f"{spec['path']}/{split}"):
            meeting = json.loads(snap.text(path))
            turns = meeting["meeting_transcripts"]
            for query in meeting["general_query_list"] + meeting["specific_query_list"]:
                task = _label(spec["rules"], query["query"].strip())
                spans = query.get("relevant_text_span") or [[0, len(turns) - 1]]
                said = [t for a, b in spans for t in turns[int(a) : int(b) + 1]]
                text = "\n".join(
                    f"{t['speaker']}: {' '.join(_QMSUM_MARK_RE.sub('', t['content']).split())}"
                    for t in said
                )
                if task and len(text) >= spec["min_chars"]:
                    yield f"{query['query'].strip()}\n\n{text}", task, f"{path}:{query['query']}"


def read_choice_questions(
    snap: Snapshot, spec: dict[str, Any], rng: random.Random
) -> Iterator[Row]:
    """ARC and OpenBookQA as LLM-Adapters packages them ("Please choose the correct answer to
    the question: <q>\n\nAnswer1: <a> Answer2: <b> ..."): the question, its options."""
    for path in spec["paths"]:
        for i, row in enumerate(json.loads(snap.text(path))):
            body = row["instruction"].removeprefix(spec["prefix"])
            question, _, options = body.partition("\n\nAnswer1:")
            options = options.split("\n\nAnswer format")[0]
            choices = [c.strip() for c in re.split(r"\s*Answer\d+:\s*", " " + options) if c]
            yield _with_choices(question.strip(), choices, rng), spec["task"], f"{path}:{i}"


def read_mmlu(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """MMLU's dev split (five questions a subject), or its test split as an evaluation file
    (never trained on): the subject, from the file name, decides between math and knowledge."""
    for name in snap.listdir(spec["path"]):
        task = _label(spec["rules"], name)
        if not task:
            continue
        for i, row in enumerate(csv.DictReader(io.StringIO(snap.text(f"{spec['path']}/{name}")))):
            choices = [row[f"choice{k}"] for k in range(4)]
            yield _with_choices(row["question"].strip(), choices, rng), task, f"{name}:{i}"


def read_counsel_chat(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """People asking for help with feelings and relationships: each question once (the file
    has a row per therapist's answer), its text as the asker wrote it."""
    seen: set[str] = set()
    for row in csv.DictReader(io.StringIO(snap.text(spec["path"]))):
        if row["questionID"] in seen:
            continue
        seen.add(row["questionID"])
        text = (row.get("questionText") or "").strip() or row["questionTitle"].strip()
        yield text, spec["task"], f"{spec['path']}:{row['questionID']}"


def read_csv(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    for i, row in enumerate(csv.DictReader(io.StringIO(snap.text(spec["path"])))):
        yield row[spec["field"]], spec["task"], f"{spec['path']}:{i}"


def _titled_post(title: str, text: str, spec: dict[str, Any]) -> str | None:
    """A post's title and the text under it, as its writer typed them; None where the text is
    shorter than "min_chars" or, with "questions", the title asks no question. With
    "one_line", the title and the text run together on one line, as a chat user types a
    question and its context."""
    title, text = html.unescape(title).strip(), html.unescape(text).strip()
    if len(text) < spec["min_chars"] or (spec.get("questions") and "?" not in title):
        return None
    prompt = f"{title}\n\n{text}"
    return " ".join(prompt.split()) if spec.get("one_line") else prompt


def _titled_posts(
    snap: Snapshot,
    spec: dict[str, Any],
    title_column: str,
    text_column: str,
    keep: Callable[[dict[str, str]], bool],
) -> Iterator[Row]:
    """The titled posts of each CSV in "paths" (the rows ``keep`` accepts); the task is
    "task", or by "rules" over the file's name."""
    for path in spec.get("paths") or [spec["path"]]:
        task = _label(spec["rules"], path) if "rules" in spec else spec["task"]
        if task is None:  # a file no rule labels is not read
            continue
        for i, row in enumerate(csv.DictReader(io.StringIO(snap.text(path)))):
            prompt = _titled_post(row[title_column], row[text_column], spec) if keep(row) else None
            if prompt is not None:
                yield prompt, task, f"{path}:{row.get('id', i)}"


def read_reddit(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """Subreddits' top posts: a self post's title and the text under it (link posts are images
    and pages)."""
    return _titled_posts(snap, spec, "title", "selftext", lambda row: row["is_self"] == "True")


def read_stackexchange(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """Stack Exchange questions as the API gives them: a title, and the body under it."""
    return _titled_posts(snap, spec, "title", "content", lambda row: True)


def read_spreadsheet(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """One column of an .xlsx sheet (inside a .zip when "member" names it), on the rows where
    each column in "where" holds one of the values listed."""
    from openpyxl import load_workbook  # a development dependency: only this reader needs it

    data, where = snap.read(spec["path"]), spec["path"]
    if "member" in spec:
        data = zipfile.ZipFile(io.BytesIO(data)).read(spec["member"])
        where += f":{spec['member']}"
    rows = load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True)
    header = [str(cell) for cell in next(rows)]
    for i, values in enumerate(rows, 2):
        row = dict(zip(header, values, strict=False))
        if all(str(row.get(k)) in allowed for k, allowed in spec.get("where", {}).items()):
            yield str(row[spec["field"]]), spec["task"], f"{where}:{i}"


def read_logiqa(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """LogiQA 2.0: a passage, a question about its logic, four options."""
    for line in _records(snap.text(spec["path"])):
        row = json.loads(line)
        question = f"{row['text'].strip()}\n\n{row['question'].strip()}"
        choices = [c.strip() for c in row["options"]]
        yield _with_choices(question, choices, rng), spec["task"], f"{spec['path']}:{row['id']}"


def read_folio(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """FOLIO: premises written by experts and a conclusion, asked as true, false or uncertain
    in one of `wrappers.json`'s "deduction" phrasings (the premises are the source's)."""
    wrappers = _wrappers("deduction")
    for line in _records(snap.text(spec["path"])):
        row = json.loads(line)
        premises = " ".join(p.strip() for p in row["premises"])
        text = rng.choice(wrappers).format(premises=premises, conclusion=row["conclusion"].strip())
        yield text, spec["task"], f"{spec['path']}:{row['example_id']}"


def read_ar_lsat(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """AR-LSAT: an analytical-reasoning game (seating, ordering, grouping) and a question."""
    for group in json.loads(snap.text(spec["path"])):
        for q in group["questions"]:
            text = f"{group['passage'].strip()}\n\n{q['question'].strip()}"
            yield _with_choices(text, q["options"], rng), spec["task"], q["id"]


def read_logicbench(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """LogicBench (Aug, its training set): a context and a yes/no question it entails or not."""
    paths = [p for p in snap.listdir_recursive(spec["path"]) if p.endswith("data_instances.json")]
    for path in paths:
        for i, sample in enumerate(json.loads(snap.text(path))["data_samples"]):
            pair = rng.choice(sample["qa_pairs"])
            text = f"{sample['context'].strip()} {pair['question'].strip()}"
            yield text, spec["task"], f"{path}:{i}"


def read_blocks(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """A text file of entries, blank-line-separated (writing prompts) or one a line with
    `"per_line": true` (NL2Bash), each wrapped in one of `wrappers.json`'s request phrasings
    when the spec names a `wrapper`; a `drop` regex is removed from each entry first (NL2Bash's
    "(GNU specific)" notes)."""
    wrappers = _wrappers(spec["wrapper"]) if "wrapper" in spec else ["{text}"]
    separator = "\n" if spec.get("per_line") else r"\n\s*\n"
    for i, block in enumerate(re.split(separator, snap.text(spec["path"]))):
        entry = re.sub(spec["drop"], "", block.strip()) if "drop" in spec else block.strip()
        if entry:
            text = rng.choice(wrappers).format(text=entry)
            yield text, spec["task"], f"{spec['path']}:{i}"


def read_convai(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """ConvAI2's live evaluation: what volunteers typed to the bots, a turn at a time."""
    for path in spec["paths"]:
        for i, dialogue in enumerate(json.loads(snap.text(path))):
            for turn in dialogue["dialog"]:
                if turn.get("sender_class") == "Human" and turn["text"].strip():
                    yield turn["text"], spec["task"], f"{path}:{i}:{turn['id']}"


def read_rasa_nlu(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """A Rasa NLU file's example lines ("- ..." under "## intent:..."), for the listed intents."""
    intent = ""
    for line in snap.text(spec["path"]).split("\n"):
        if line.startswith("## intent:"):
            intent = line.removeprefix("## intent:").strip()
        elif line.startswith("- ") and _label(spec["rules"], intent):
            yield line[2:].strip(), spec["task"], f"{spec['path']}:{intent}"


def read_topical_chat(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """Topical-Chat: each conversation's opening message."""
    for path in spec["paths"]:
        for key, conversation in sorted(json.loads(snap.text(path)).items()):
            if conversation["content"]:
                yield conversation["content"][0]["message"], spec["task"], f"{path}:{key}"


def read_stepgame(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """StepGame: sentences placing objects relative to each other, then a question that takes
    one to ten steps of spatial reasoning."""
    for i, line in enumerate(_records(snap.text(spec["path"]))):
        row = json.loads(line)
        yield " ".join(row["story"]) + "\n" + row["question"], spec["task"], f"{spec['path']}:{i}"


def read_tracie(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """TRACIE: a short story and a statement about when one event starts relative to another,
    asked as whether the story implies it (each line is "event: ... story: ...\tanswer: ...")."""
    wrappers = _wrappers(spec["wrapper"])
    for i, line in enumerate(_records(snap.text(spec["path"]))):
        event, _, story = line.split("\t")[0].removeprefix("event: ").partition(" story: ")
        text = rng.choice(wrappers).format(event=" ".join(event.split()), story=story.strip())
        yield text, spec["task"], f"{spec['path']}:{i}"


def read_choice_jsonl(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """A JSON Lines file of questions with lettered options ("A)32400"), from every path."""
    for path in spec["paths"]:
        for i, line in enumerate(_records(snap.text(path))):
            row = json.loads(line)
            options = [re.sub(r"^[A-H]\)\s*", "", o) for o in row[spec["choices"]]]
            yield _with_choices(row[spec["field"]], options, rng), spec["task"], f"{path}:{i}"


def read_debugbench(snap: Snapshot, spec: dict[str, Any], rng: random.Random) -> Iterator[Row]:
    """DebugBench: a LeetCode problem and a solution with a bug planted in it, asked as a user
    asks for a fix; the language is the file name's prefix (cpp, java, python3)."""
    wrappers = _wrappers(spec["wrapper"])
    languages = {"cpp": "C++", "java": "Java", "python3": "Python"}
    for name in snap.listdir_recursive(spec["path"]):
        language = languages[name.rsplit("/", 1)[-1].split("_", 1)[0]]
        for i, row in enumerate(json.loads(snap.text(name))):
            text = rng.choice(wrappers).format(
                language=language,
                description=row["description"].strip(),
                code=row["buggy_code"].strip(),
            )
            yield text, spec["task"], f"{name}:{i}"


READERS: dict[str, Reader] = {
    name.removeprefix("read_"): fn for name, fn in globals().items() if name.startswith("read_")
}

# ------------------------------------------------------------------------------ build


def normalise(text: str) -> str:
    """The form two prompts are compared in for duplicates and contamination."""
    return re.sub(r"\W+", " ", text.lower()).strip()


def build_source(
    mirror: Path, name: str, spec: dict[str, Any], seen: set[str]
) -> list[dict[str, str]]:
    rng = random.Random(f"{SEED}:{name}")
    snap = Snapshot(mirror, spec["repo"], spec["commit"])
    rows: list[Row] = []
    for prompt, task, origin in READERS[spec["reader"]](snap, spec, rng):
        prompt = prompt.strip()[:MAX_CHARS]
        key = normalise(prompt)
        if len(key) < 2 or key in seen:
            continue
        seen.add(key)
        rows.append((prompt, task, origin))
    rows = _sample(rows, spec.get("limit"), rng)
    if "task_limit" in spec:  # keep one task from crowding out the others in a mixed source
        by_task: dict[str, list[Row]] = {}
        for row in rows:
            by_task.setdefault(row[1], []).append(row)
        rows = [r for t in sorted(by_task) for r in _sample(by_task[t], spec["task_limit"], rng)]
    return [{"prompt": p, "task": t, "source": name, "origin": o} for p, t, o in rows]


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _table_row(name: str, spec: dict[str, Any], rows: list[dict[str, str]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["task"]] = counts.get(row["task"], 0) + 1
    classes = ", ".join(f"{t} {n:,}" for t, n in sorted(counts.items(), key=lambda x: -x[1]))
    return f"| `{name}` | {spec['repo']} @ {spec['commit'][:7]} | {len(rows):,} | {classes} |"


def rebuild_one(
    mirror: Path, name: str, spec: dict[str, Any], held_out: bool = False
) -> list[dict[str, str]]:
    """One training source (or held-out set), deduplicated against every file already written."""
    out = (
        DATA / "eval" / f"{name}.jsonl" if held_out else DATA / "train" / "public" / f"{name}.jsonl"
    )
    seen = {
        normalise(json.loads(line)["prompt"])
        for path in sorted(DATA.rglob("*.jsonl"))
        if path != out
        for line in _records(path.read_text(encoding="utf-8"))
    }
    rows = build_source(mirror, name, spec, seen)
    write_jsonl(out, rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument(
        "--only",
        help="rebuild this training source (or held-out set) alone, deduplicated against every "
        "file already written (a full run dedupes against everything read before it)",
    )
    args = parser.parse_args(argv)
    config = json.loads((DATA / "sources.json").read_text(encoding="utf-8"))
    header = "| {} | repository @ commit | rows | classes |\n|---|---|---|---|"
    if args.only:
        held_out = args.only in config["held_out"]
        spec = config["held_out" if held_out else "train"][args.only]
        rows = rebuild_one(args.mirror, args.only, spec, held_out)
        print(header.format("source") + "\n" + _table_row(args.only, spec, rows))
        return 0

    seen: set[str] = set()
    benchmarks: list[dict[str, str]] = []
    print(header.format("benchmark"))
    for name, spec in config["benchmarks"].items():
        rows = build_source(args.mirror, name, spec, seen)
        benchmarks.extend(rows)
        print(_table_row(name, spec, rows))
    write_jsonl(DATA / "eval" / "benchmarks.jsonl", benchmarks)
    for name, spec in config["blind"].items():  # evaluation only, kept apart from the above
        rows = build_source(args.mirror, name, spec, seen)
        write_jsonl(DATA / "eval" / f"{name}.jsonl", [r | {"canary": spec["canary"]} for r in rows])
        print(_table_row(name, spec, rows))
    for name, spec in config["held_out"].items():  # real prompts, never trained on
        rows = build_source(args.mirror, name, spec, seen)
        write_jsonl(DATA / "eval" / f"{name}.jsonl", rows)
        print(_table_row(name, spec, rows))
    for held in ("arena_hard_labelled.jsonl", "labelled.jsonl"):
        for line in _records((DATA / "eval" / held).read_text(encoding="utf-8")):
            seen.add(normalise(json.loads(line)["prompt"]))

    print("\n" + header.format("source"))
    total = 0
    for name, spec in config["train"].items():
        rows = build_source(args.mirror, name, spec, seen)
        write_jsonl(DATA / "train" / "public" / f"{name}.jsonl", rows)
        print(_table_row(name, spec, rows))
        total += len(rows)
    print(f"\n{total:,} public training prompts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
