"""Embedded task classifier: strong-signal rules plus a hashed n-gram linear model.

Standard library only, so it runs in the router Lambda without a model download. The model
is a multinomial logistic regression over hashed word unigrams, word bigrams and character
3/4-grams of words (fastText-style subwords), plus a few features of the message's shape
(length, lines, how it ends), trained by ``scripts/train_classifier.py``.
Its weights ship as ``classifier.bin`` next to this file: int8 per class with a float scale,
zlib-compressed, loaded on first use and cached for the life of the process.

Rules do not decide on their own: each one adds a fixed amount to one class's logit, so a
strong signal (a code fence, "translate ... into French") wins unless the text says
otherwise, and request features (tools, JSON mode) only nudge.

Task classes, as the router uses them:

- coding: write, debug, explain, review or convert code; shell, SQL, regex, build and
  deployment configuration.
- math: calculation, algebra, calculus, probability and statistics problems, proofs.
- reasoning: logic puzzles, riddles, deduction, argument analysis, trade-offs and decisions.
- writing: compose or edit prose, poetry, emails, letters, copy; rewrite, proofread.
- summarization: condense a given text, or summarise a known work.
- translation: between natural languages.
- extraction: information out of a given text: fields, entities, JSON, labels, the answer to
  a question about a passage that comes with it.
- knowledge: factual questions and explanations of concepts, science and common-sense
  questions with or without options.
- chat: greetings, small talk, feelings, casual everyday requests.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from array import array
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

TASKS: tuple[str, ...] = (
    "coding",
    "math",
    "reasoning",
    "writing",
    "summarization",
    "translation",
    "extraction",
    "knowledge",
    "chat",
)

WEIGHTS_PATH = Path(__file__).with_name("classifier.bin")
MAGIC = b"MYTC"
FORMAT_VERSION = 2  # 2: a softmax temperature after the class names
# Bumped whenever featurize() or the normalisation changes: weights trained on other
# features are refused. 2: NORM_POWER 0.75 (was 0.5). 3: the message's shape. 4: a
# question on a first line of its own (a titled question) among the shape features. 5: a
# question that opens a message of one line and goes on ("Why ...? I imagine ...") too.
FEATURE_VERSION = 5
BUCKET_BITS = 17
# A text's feature counts are divided by (number of features) ** NORM_POWER. 0.5 let a long
# text's logits grow with its length until they swamped the rules; 0.75 scored better on
# sources held out of training (LOSO macro-F1 0.663 against 0.637) and is calibrated.
NORM_POWER = 0.75
# The value of each shape feature (shape_buckets), the same whatever the text's length: a
# long text's words are each worth less after the normalisation, its shape is not.
SHAPE_WEIGHT = 0.05

_HEADER = struct.Struct("<4sHHBBH")  # magic, format, features, bucket bits, classes, names len
_MASK = (1 << BUCKET_BITS) - 1
_HEAD_CHARS = 1200  # a long message is read from its first and last characters only
_TAIL_CHARS = 300
_MAX_GRAM_WORD = 16  # characters of a word that give character n-grams
_CACHE_LIMIT = 50_000  # distinct words whose scores are memoised
# Bits per class in a packed bucket: a clipped text has under 2**16 features, each adding at
# most 255 to a lane, so its sums stay under 2**24 and never carry into the next class.
_LANE_BITS = 32
_MAX_CONTEXT_MESSAGES = 8
_RULE_CHARS = 600  # rules look at the start of a message, where the instruction usually is
_RULE_TAIL_CHARS = 300  # ... or at its end, after a pasted text ("... TL;DR", "Summarise this.")
_QUESTION_CHARS = 200  # a question on a first line this short, then a passage ...
_PASSAGE_CHARS = 300  # ... of at least this many characters: a question about the passage

_QUESTION_WORD_RE = re.compile(
    r"(?:what|who|whom|whose|where|when|which|why|how|is|are|was|were|do|does|did|can|could"
    r"|tell me)\b",
    re.IGNORECASE,
)
_SENTENCE_END_RE = re.compile(r"(?<=[.!?:])\s+")
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_FIGURE_RUN_RE = re.compile(r"\d+")
# The asker's own words: a question's context in the first person is the asker's, not a
# passage to answer from ("Why do ice cubes crack?\n\nI noticed mine ...")
_FIRST_PERSON_RE = re.compile(r"\b(?:i|my|me|myself)\b", re.IGNORECASE)
_TITLE_BODY_CHARS = 30  # an opening question, then at least this much text
# An opening question's shape feature is listed this many times, so it weighs four shape
# features: listed once, the model leant on it too little to tell a Reddit question with
# its asker's context (knowledge) from a question on a pasted passage (extraction).
_TITLE_REPEAT = 4
_QUESTION_END_RE = re.compile(r"\?\s")
# A multiple-choice question's options, listed at its end one a line ("A. 1.2 million",
# "(B) deduction", "c) the UN Charter"): answers to choose from, not the request. The rules
# read the question without them, so options holding figures do not make a word problem,
# nor long options a passage to answer from.
_CHOICES_RE = re.compile(
    r"\n[ \t]*\(?[Aa][.):][^\n]*(?:\n[ \t]*\(?[B-Hb-h][.):][^\n]*)+"
    r"(?:\s*\n[ \t]*[Aa]nswer:?)?\s*$"
)
_CHOICES_CHARS = 2000  # options are looked for this far from a message's end
_SHAPE_FIGURE_CHARS = 1500  # figures are counted this far into a text
_DIGITS = str.maketrans("0123456789", "0000000000")


@dataclass(frozen=True, slots=True)
class Classification:
    task: str  # one of TASKS
    confidence: float  # 0..1: softmax probability of the winner
    signals: tuple[str, ...]  # short reasons, e.g. ("rule:code_fence", "model")


# --------------------------------------------------------------------------- features


def _bucket(key: str) -> int:
    return zlib.crc32(key.encode("utf-8")) & _MASK


def _word_buckets(word: str) -> list[int]:
    """The unigram bucket of a token and the buckets of its character 3- and 4-grams."""
    keys = ["w" + word]
    if len(word) > 1 and word[0].isalpha():
        padded = "<" + word[:_MAX_GRAM_WORD] + ">"
        for n in (3, 4):
            keys.extend("c" + padded[i : i + n] for i in range(len(padded) - n + 1))
    return [_bucket(k) for k in keys]


def _clip(text: str) -> str:
    if len(text) <= _HEAD_CHARS + _TAIL_CHARS:
        return text
    return text[:_HEAD_CHARS] + "\n" + text[-_TAIL_CHARS:]


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(_clip(text).lower().translate(_DIGITS))


def featurize(text: str) -> list[int]:
    """Hashed feature buckets of a text, one entry per occurrence (the trainer's view)."""
    buckets: list[int] = []
    prev = "^"
    for tok in _tokens(text):
        buckets.extend(_word_buckets(tok))
        buckets.append(_bucket("b" + prev + " " + tok))
        prev = tok
    return buckets


def _log2_bucket(n: int, cap: int) -> int:
    return min((n + 1).bit_length() - 1, cap)


def shape_buckets(text: str) -> list[int]:
    """The buckets of the message's shape, which no single word gives: its length and lines,
    how it ends (a question, a colon before what is to follow) and how many figures it
    holds; and a question the message opens with, with whether the text after it is in the
    asker's own words. A short question, a long passage ending in a question, a word
    problem and a question with the asker's context differ in these, whatever their words."""
    s = text.strip()
    end = s[-1:] if s[-1:] in "?.:!" else "-"
    figures = sum(1 for _ in _FIGURE_RUN_RE.finditer(s, 0, _SHAPE_FIGURE_CHARS))
    newlines = min(s.count("\n"), 6)
    keys = [
        f"#len{_log2_bucket(len(s), 12)}",
        f"#nl{newlines}",
        f"#end{end}",
        f"#fig{_log2_bucket(figures, 4)}",
    ]
    body = _after_opening_question(s)
    if len(body.strip()) >= _TITLE_BODY_CHARS:
        keys += [f"#title{_matches(_FIRST_PERSON_RE, body, 2)}"] * _TITLE_REPEAT
    return [_bucket(k) for k in keys]


def _after_opening_question(s: str) -> str:
    """The text after the question a message opens with, as far as the shape's window: its
    first line if that is a question (a title), or, in a message of one line, a question
    ending within its first ``_QUESTION_CHARS`` characters, with the asker's context typed
    after it ("Why do some things melt? I imagine ..."). Empty if it opens with neither. A
    first line that goes on past its question and then has more lines is not counted: as an
    opening question it scored a little lower on the evaluation files."""
    newline = s.find("\n")
    if newline > 0:
        if not s[:newline].rstrip().endswith("?"):
            return ""
        start = newline + 1
    else:
        question = _QUESTION_END_RE.search(s, 0, _QUESTION_CHARS + 2)
        if question is None:
            return ""
        start = question.end()
    return s[start : start + _SHAPE_FIGURE_CHARS]


# ------------------------------------------------------------------------ weights file


class _Model:
    """Weights plus a memo of each seen word's summed unigram and character n-gram weights.

    The model is linear, so a word's features can be scored once and reused: scoring a
    prompt then costs one lookup per word and per bigram instead of one per n-gram. Each
    bucket's weights for all classes are packed into one integer, a ``_LANE_BITS``-bit lane
    per class holding the weight plus 128, so a text's class sums are one integer sum; the
    lanes are wide enough that no text's sums overflow into the next.
    """

    def __init__(
        self,
        classes: tuple[str, ...],
        bias: tuple[float, ...],
        scale: tuple[float, ...],
        weights: tuple[array, ...],
        temperature: float = 1.0,
    ) -> None:
        self.classes = classes
        self.temperature = temperature  # fitted on held-out sources: confidence is calibrated
        self.bias = bias
        self.scale = scale
        self.weights = weights  # one int8 array of 2**BUCKET_BITS per class
        self._packed = _interleave(weights)
        self._lane_bytes = _LANE_BITS // 8 * len(classes)
        self._words: dict[str, tuple[int, int]] = {}  # word -> (packed sums, feature count)

    def _bucket_weights(self, bucket: int) -> int:
        start = bucket * self._lane_bytes
        return int.from_bytes(self._packed[start : start + self._lane_bytes], "little")

    def _word(self, word: str) -> tuple[int, int]:
        scored = self._words.get(word)
        if scored is None:
            buckets = _word_buckets(word)
            scored = sum(map(self._bucket_weights, buckets)), len(buckets)
            self._words[word] = scored
        return scored

    def logits(self, text: str) -> list[float]:
        if len(self._words) >= _CACHE_LIMIT:  # bound the memo; only between texts
            self._words.clear()
        total = features = 0
        prev = "^"
        for tok in _tokens(text):
            packed, size = self._word(tok)
            total += packed + self._bucket_weights(_bucket("b" + prev + " " + tok))
            features += size + 1
            prev = tok
        shapes = shape_buckets(text)
        shape = sum(map(self._bucket_weights, shapes))
        norm = features**-NORM_POWER if features else 0.0
        offset = 128 * features  # each feature added 128 to every lane
        shape_offset = 128 * len(shapes)
        mask = (1 << _LANE_BITS) - 1
        return [
            b
            + s * norm * (((total >> (_LANE_BITS * c)) & mask) - offset)
            + s * SHAPE_WEIGHT * (((shape >> (_LANE_BITS * c)) & mask) - shape_offset)
            for c, (s, b) in enumerate(zip(self.scale, self.bias, strict=True))
        ]


def _interleave(rows: tuple[array, ...]) -> bytes:
    """Class-major int8 rows as bucket-major little-endian lanes of weight + 128."""
    lane = _LANE_BITS // 8
    stride = lane * len(rows)
    packed = bytearray(stride * len(rows[0]))
    to_unsigned = bytes((i + 128) % 256 for i in range(256))  # int8 byte -> weight + 128
    for c, row in enumerate(rows):
        packed[c * lane :: stride] = row.tobytes().translate(to_unsigned)
    return bytes(packed)


def pack_weights(
    classes: tuple[str, ...],
    bias: list[float],
    scale: list[float],
    rows: list[bytes],
    temperature: float = 1.0,
) -> bytes:
    """Serialise a model: header, class names, float32 temperature, bias and scale, then the
    zlib'd int8 rows."""
    names = "\n".join(classes).encode("utf-8")
    header = _HEADER.pack(
        MAGIC, FORMAT_VERSION, FEATURE_VERSION, BUCKET_BITS, len(classes), len(names)
    )
    floats = struct.pack(f"<{1 + 2 * len(classes)}f", temperature, *bias, *scale)
    return header + names + floats + zlib.compress(b"".join(rows), 9)


def _unpack(blob: bytes) -> _Model:
    try:
        magic, fmt, feat, bits, n_classes, names_len = _HEADER.unpack_from(blob)
        if (magic, fmt, feat, bits) != (MAGIC, FORMAT_VERSION, FEATURE_VERSION, BUCKET_BITS):
            raise ValueError("classifier.bin does not match this classifier version; retrain it")
        offset = _HEADER.size
        classes = tuple(blob[offset : offset + names_len].decode("utf-8").split("\n"))
        offset += names_len
        temperature, *floats = struct.unpack_from(f"<{1 + 2 * n_classes}f", blob, offset)
        raw = zlib.decompress(blob[offset + 4 + 8 * n_classes :])
    except (struct.error, zlib.error, UnicodeDecodeError) as exc:
        raise ValueError("not a classifier weights file") from exc
    size = 1 << bits
    if len(raw) != n_classes * size:
        raise ValueError("not a classifier weights file")
    rows = []
    for c in range(n_classes):
        row = array("b")
        row.frombytes(raw[c * size : (c + 1) * size])
        rows.append(row)
    return _Model(
        classes, tuple(floats[:n_classes]), tuple(floats[n_classes:]), tuple(rows), temperature
    )


_model: _Model | None = None


def _get_model() -> _Model:
    global _model
    if _model is None:
        _model = _unpack(WEIGHTS_PATH.read_bytes())
    return _model


def use_weights(blob: bytes | None) -> None:
    """Serve these weights from now on (None: the shipped file). For training and evaluation."""
    global _model
    _model = None if blob is None else _unpack(blob)
    _scored.cache_clear()


# ------------------------------------------------------------------------------ rules

_VOCABULARY = json.loads(Path(__file__).with_name("vocabulary.json").read_text("utf-8"))
_NATURAL_LANGUAGES = frozenset(_VOCABULARY["natural_languages"])
_PROGRAMMING_LANGUAGES = frozenset(_VOCABULARY["programming_languages"])
#: a programming language, framework or developer tool named anywhere in the message ("vue3")
_CODE_TERM_RE = re.compile(
    r"(?<![\w.+#-])(?:"
    + "|".join(map(re.escape, sorted(_VOCABULARY["code_terms"], key=len, reverse=True)))
    + r")\d*(?![\w+#-])"
)
_TRANSLATE_RE = re.compile(
    r"\b(?:translat\w*|render|put|convert|port|rewrite|traduc\w*|tradu\w+|übersetz\w*)\b"
    r"[^\n]{0,160}?\b(?:in|into|to|en|ins|al|a|from)\s+(?:the\s+)?(?:[a-z]+\s+)?"
    r"([a-z][a-z+#-]*)"
)
_SAY_IN_RE = re.compile(
    r"(?:\bhow (?:do|would|can|could) (?:you|i|we|one|a native speaker) (?:say|write|express)"
    r"|\bwhat(?:'s| is| does)\b)[^\n]{1,120}?\b(?:in|mean in) ([a-z]+)\b"
)
_LANG_FOR_RE = re.compile(
    r"\b(?:the|a|an)\s+([a-z]+)\s+(?:for|translation|version|word for|equivalent)\b"
)
_FOREIGN_TRANSLATE_RE = re.compile(r"翻译|翻訳|переведи|перевод|traduis|traduce|übersetze")
_STACK_TRACE_RE = re.compile(
    r"traceback \(most recent call last\)|exception in thread"
    r"|\b(?:at [\w.$<>]+\([\w]+\.\w+:\d+\)|line \d+, in \w+)"
    r"|(?<=\w)(?:error|exception): |segmentation fault|core dumped|npm err!|error\[e\d+\]"
    r"|undefined reference to|panic: |fatal: "
)
_CODE_LINE_RE = re.compile(
    r"^\s*(?:def \w+\(|class \w+[(:{]|import [\w.]+|from [\w.]+ import|#include\b|using \w+"
    r"|public |private |protected |function\b|const \w+\s*=|let \w+\s*=|var \w+\s*=|fn \w+"
    r"|func \w+|package \w+|select .+ from\b|create table\b|insert into\b|<\?php|<\w+[ >]"
    r"|@\w+|if __name__|return\b|for \w+ in |for \(|while \(|if \(|\}|\w+\s*\(.*\)\s*[;{]\s*$"
    r"|.*;\s*$|.*\{\s*$)",
    re.MULTILINE,
)
# The alternatives that start a word share one \b, so a position is tested once for them,
# and \w++ does not backtrack through a word that is not followed by a dot.
_CODE_TOKEN_RE = re.compile(
    r"\b(?:\w++\.\w++\(|[a-z]+_[a-z_]+\b|[a-z]+[A-Z]\w*\b"
    r"|\w+\.(?:py|js|ts|tsx|jsx|java|go|rs|cpp|hpp|cs|rb|php|sh|yaml|yml|toml|sql)\b)"
    r"|=>|->|!=|==|&&|\|\||::|`[^`\n]+`"
)
#: an identifier or expression in inline code, as Markdown writes it ("the keys of `d`"), not
#: a fence; the backtick comes first so that the search skips to it (with the lookbehind
#: first, the search tries every position of the text)
_INLINE_CODE_RE = re.compile(r"`(?<!``)[^`\n]{1,40}`(?!`)")
_MATH_RE = re.compile(  # word-start alternatives share one \b, as in _CODE_TOKEN_RE
    r"\d[a-z]\b(?!-)"
    r"|\b(?:[a-z]\s*\^|(?:sin|cos|tan|log\d*|ln|exp)\s*\(|d[a-z]/d[a-z]\b|f\(x\)|solve for [a-z]\b"
    r"|derivative\b|integra(?:l|te)\b|eigen\w*|prove\b|probability\b|equations?\b)"
    r"|\^\s*[\d(]|\d\s*[*×÷·]\s*\d|\d\s*\+\s*\d|[a-z0-9)]\s*=\s*-?[\d(a-z]"  # noqa: RUF001
    r"|\\(?:d?frac|int|sum|prod|sqrt|lim|cdot|times|div|pi|theta|angle|triangle|binom|leq?"
    r"|geq?|neq|pm|infty|mathbb|overline|circ)\b|\\begin\{[pvb]?matrix|[∫∑√π≤≥≠∞θ²³≡]"
    r"|\$[a-z\\(][^$\n]{0,60}\$(?!\d)"  # inline TeX ("$x^2$"), not prices ("$5 and $6")
)
_FIGURE_RE = re.compile(r"\[asy\].*?(?:\[/asy\]|\Z)", re.DOTALL | re.IGNORECASE)
_SUMMARY_RE = re.compile(
    r"\b(?:summar(?:i[sz]\w*|y|ies)|tl;? ?dr|sum (?:it |this |that )?up|recap\w*|condense|gist"
    r"|key (?:points|takeaways)|main (?:takeaways|points|ideas)|cliffs ?notes|in a nutshell"
    r"|executive summary|bottom line|short version|boil (?:this|it) down|(?:this|it) boils down"
    r"|distil+ (?:\w+ ){0,3}(?:down|into)|write (?:me )?an? (?:\w+ ){0,2}abstract"
    r"|synthesi[sz]e (?:these|the following|this|the) (?:\w+ )?(?:documents|articles|texts|papers"
    r"|sources|reports))\b"
)
_EXTRACT_RE = re.compile(
    r"\b(?:extract\w*|pull (?:out|the)|parse|fill (?:in )?(?:this|the) schema|named entities"
    r"|(?:find|list) (?:all|every)\b"
    r"(?!\s+(?:the\s+)?(?:\S+\s+)?(?:files?|director(?:y|ies)|folders?)\b)"
    r"|identify (?:all|the|every)|classify|categori[sz]e|tag each|label each"
    # the items a given text names: "the places mentioned here", "does this email mention"
    r"|(?:mentioned|named|referred to) (?:here|in (?:this|the following))"
    r"|does (?:this|the) (?:\w+ )?(?:text|message|tweet|post|comment|email|article|passage|"
    r"paragraph|review|document) mention)\b"
)  # "find all files under /tmp" is a shell task, not a passage to pull items from
#: a label asked for a given text (sentiment, topic, category): extraction, as the taxonomy says
_LABEL_RE = re.compile(
    r"\b(?:(?:positive|negative) or (?:negative|positive|neutral)|what (?:is the )?sentiment"
    r"|sentiment (?:of|expressed|does)|which (?:category|section|topic|label) (?:does|would|best)"
    r"|is (?:this|the) (?:product )?(?:review|tweet|comment|text|message|email) (?:positive|"
    r"negative|spam)|(?:how does|did) the (?:reviewer|writer|author|viewer|user|customer) "
    r"(?:feel|find|like|enjoy)|satisfied or dissatisfied|(?:flattering|unflattering) light"
    r"|would (?:the user|you|he|she|they) (?:recommend|buy) this product"
    r"|is this (?:a )?piece of news (?:regarding|about)|which (?:section|part) of a newspaper"
    # a category asked of a given title, paragraph or question
    r"|what category (?:does|would|best)|categor(?:y|ies)[^.?\n]{0,40}\bbelongs? to"
    r"|pick (?:one|a|the best) (?:category|descriptor|label)|given a (?:choice|list) of categories"
    r"|on a scale (?:of|from) (?:1|one|0|zero) to (?:5|10|five|ten)"
    # a rating or a type asked of a given text
    r"|what label best describes|(?:star|★)[- ]?rating|rat(?:e|ing) (?:of |for )?th(?:is|e) "
    r"(?:review|comment|tweet|product|app)|review (?:score|rating|stars)|(?:my|the) rating "
    r"(?:is|for)|what (?:is this|does this) question ask)"
)
#: a request that points at the text it comes with ("given this paragraph about ...",
#: "according to the passage"): an answer out of a given text, extraction
_GROUNDED_RE = re.compile(
    r"\b(?:given|using|from|based on|according to|referring to|with reference to) (?:a |an |the "
    r"|this |these |that |following )*(?:reference |provided |above |below |given )?(?:text|"
    r"paragraph|passage|article|document|excerpt|movie plot|review)s?\b"
    r"|\b(?:about|in|within|inside) (?:this|the|the following) (?:movie plot|passage|paragraph"
    r"|article|text)\b"
)
#: a summary given as the material to write from ("an article from the following summary")
_FROM_SUMMARY_RE = re.compile(
    r"\b(?:from|based on|using|given|expand(?:ing)?|match(?:es|ing)?|fits?) "
    r"(?:the |this |a |these )?(?:following |given |above |short )?"
    r"(?:summary|summaries|(?:key |bullet |plot )+points)\b"
)
_STRUCTURE_RE = re.compile(
    r"\b(?:json|csv|table|fields?|key[- ]value|yaml|schema|structured|columns?|e\.164)\b"
)
_GREETING_RE = re.compile(
    r"^(?:hi|hello|hey|hiya|yo|sup|howdy|morning|evening|good (?:morning|afternoon|evening|"
    r"night)|thanks?|thank you|thx|ty|ok|okay|cool|lol|haha|bye|good ?bye|see ya|nice)\b"
)

#: a request to compose a named form of writing; not a program that handles one ("write a
#: function that reverses a sentence", "create a script that sends an e-mail")
_COMPOSE_RE = re.compile(
    # "Based on these bullet points, write ...", "From the concepts below, generate ..."
    r"^(?:(?:based on|using|from|given|with) [^,\n]{1,60}, )?"
    r"(?:please |can you |could you |help me |i need you to |i want you to |now )?"
    r"(?:write|compose|draft|craft|pen|create|generate|construct|build|produce)\b"
    r"(?:(?!\b(?:function|program|script|code|regex|query|class|method|algorithm|app|api|test"
    r"|macro|bot|title)s?\b)[^\n]){0,60}?\b(?:story|stories|poem|poetry|essay|e-?mail|letter|blog|"
    r"article|speech|song|lyrics|limerick|haiku|sonnet|novel|scene|monologue|screenplay|toast|"
    r"eulogy|tweet|caption|cover letter|personal statement|slogan|tagline|headline|fable|"
    r"fairy tale|rap|ode|verse|chapter|dialogue|newsletter|press release|product description|"
    r"bio|biography|fiction|plot|storyline|tale|narrative|sentence|paragraph|outline|piece|op-?ed|"
    r"editorial|review)s?\b"
)
#: a request to rewrite prose (not code: "rewrite this query", "refactor" are coding's)
_REWRITE_RE = re.compile(
    r"^(?:please |can you |could you |help me )?(?:(?:paraphrase|rephrase|reword|rewrite"
    r"|proofread|polish|copy-?edit)\b(?![^\n]{0,60}\b(?:function|code|query|script|method"
    r"|program|regex|sql|class|component|test)s?\b)"
    # ... or edit a named piece of prose ("improve this paragraph", "edit my cover letter")
    r"|(?:edit|revise|improve|correct|tighten|shorten)\b[^\n]{0,40}?\b(?:paragraph|passage|"
    r"text|sentence|essay|e-?mail|letter|draft|wording|writing|grammar|spelling|punctuation|"
    r"prose|story|poem|article|resume|cv|bio)s?\b)"
)
_ROLE_PLAY_RE = re.compile(
    r"^(?:now,? )?(?:pretend (?:to be|you are|yourself)|embrace the role|take (?:on )?the role"
    r"|assume the role|embody|act as|i want you to act as|role[- ]?play|play the role|you are now"
    r"|you are (?:role-?playing|playing|asked to play)\b|from now on,? you are|"
    r"(?:imagine|picture) (?:you are|you're|yourself as|yourself) |"
    r"as an? [a-z ]{3,40}, (?:how|what|describe|write)|"
    # "You are a meteorologist. Explain ...": a persona, unless it is the assistant's own
    r"you are (?:a|an) (?!(?:helpful|friendly|smart|useful|honest|harmless|expert )*(?:ai|"
    r"assistant|chatbot|bot|language model|model)\b)[a-z-]+(?: [a-z-]+){0,8}[.,] )"
)
#: a premise offered for fiction, as writers share them ("[WP] ...", "Writing prompt: ..."),
#: not a story that is given ("Here's a short story: ...", "the following short story")
_STORY_PREMISE_RE = re.compile(
    r"\[wp\]|\b(?:short story(?<!here's a short story)(?<!here is a short story)"
    r"(?<!following short story)(?<!this short story)(?<!the short story)|writing prompt|"
    r"flash fiction|fan ?fic(?:tion)?|piece of fiction|"
    r"(?:opening|first) (?:line|lines|sentence|scene|paragraph|chapter)s? (?:of|for|to) (?:a|an|my|"
    r"the|your) (?:short |new )?(?:story|novel|book|tale))\b"
)
_SIGNATURE_RE = re.compile(
    r"^\s*(?:async\s+)?def \w+\([^\n]*\)[^\n]*:\s*$|^\s*>>> \w|^\s*func \w+\(|^\s*fn \w+\(",
    re.MULTILINE,
)
_DATA_STRUCTURE_RE = re.compile(
    r"\b(?:integer array|array of integers|list of integers|linked list|binary (?:search )?tree"
    r"|subarray|substring|hash ?map|time complexity|big-?o|o\(n(?: log n)?\))"
)
_QUANTITY_RE = re.compile(
    r"\bhow (?:many|much|long|far|old|tall|fast|high|heavy|big|wide|deep)\b|\bwhat(?:'s| is| was"
    r"| are| were) (?:the |their |his |her |its )?(?:new |final |original |maximum |minimum "
    r"|net )?(?:total|sum|average|percentage|probability|area|cost|price|value|combined|"
    r"difference(?! between)|ratio|number|amount|distance|speed|rate|weight|height|length|"
    r"volume|perimeter|profit|score)\b|\bwhat (?:percent\w*|fraction|proportion)\b|\bcalculate\b"
    r"|\bcompute\b|\bin (?:total|all)\b|\baltogether\b"
)
#: quantities in a word problem: figures, and the number words that GSM8K-style problems spell out
_NUMBER_RE = re.compile(
    r"\$?\d[\d,.]*%?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|forty|fifty|hundred|thousand|million|twice|thrice|half|third|quarter"
    r"|dozen|double|triple)\b"
)
_PUZZLE_RE = re.compile(
    r"\b(?:riddle|puzzle|brain ?teaser|logic (?:puzzle|problem|question|grid)|deduce|"
    r"deduction|syllogism|odd one out|does(?: not|n'?t) belong|who is (?:lying|telling the truth)|"
    r"knights and knaves|what am i(?! (?:doing wrong|missing|supposed to|not (?:getting|seeing)))|"
    r"(?:what|who) is it(?=\s*[?!])|who am i(?=\s*[?!])|how (?:can|could) (?:this|that) be|"
    # riddle forms: "what has keys but ...", "the more you take, the more you leave behind"
    r"what (?:has|have|can|goes|runs|gets)\b[^?.\n]{1,60}\b(?:but|yet)|"
    r"the (?:more|less)\b[^?.\n]{1,40}\bthe (?:more|less))\b"
)
#: a decision between courses of action: "should I take the job or stay?", trade-offs
_DECISION_RE = re.compile(
    r"\bshould (?:i|you|we|he|she|they)\b[^?\n]{2,200}?\bor\b[^?\n]{1,200}\?|\bis it (?:better|"
    r"wiser|smarter) to\b|\bpros and cons\b|\bwhich (?:option|choice|one) (?:is|would be) (?:the )?"
    r"(?:better|best|wiser)\b|\btrade-?offs? (?:between|of|involved)\b"
    r"|\bweigh (?:the|my|your) options\b"
)
#: ... or a situation told, then the choice asked at its end ("... Should John tell her?")
_DECISION_AT_END_RE = re.compile(
    r"(?:^|[.!?]\s+)(?:should (?:i|you|we|he|she|they|the \w+|[a-z]+)\b[^?\n]{3,200}\?"
    r"|do (?:you|i)\b[^?\n]{3,200}\bor\b[^?\n]{2,200}\?)\s*$"
)
_SITUATION_CHARS = 150  # told before a choice at the end, a situation makes it a decision
#: the question stems of argument analysis and deduction (LSAT, civil-service logic tests, "is
#: the conclusion true, false or uncertain"), which follow a passage on any subject
_ARGUMENT_RE = re.compile(
    r"\b(?:if true|(?:can|may) (?:be )?(?:properly |logically |validly )?(?:inferred|concluded|"
    r"deduced)|must (?:also )?be (?:true|false)|could be true|cannot be true|"
    r"most (?:strongly|reasonably) supported|(?:weaken|strengthen|undermine|support)s? the "
    r"(?:above )?(?:argument|conclusion|reasoning)|(?:assumption|flaw)s? (?:on which|in|of) "
    r"(?:the|this|that|your|his|her|their) (?:above )?(?:argument|reasoning)|"
    r"(?:hidden|unstated|underlying|implicit) (?:assumption|premise)|(?:critique|evaluate|"
    r"analy[sz]e|assess|poke holes in) (?:this|the|that|my|his|her|their) (?:argument|reasoning"
    r"|logic)|logically follows?|follows? logically|"
    r"true,? false,? or (?:uncertain|unknown|undetermined)|(?:valid|invalid) (?:argument|"
    r"conclusion|inference)|complete and accurate list|"
    r"which (?:one )?of the following[^.?\n]{0,40}\b(?:could|must|cannot) (?:be|have)|"
    r"then there must be|"
    # the other standard logical-reasoning stems: flaw, evaluate, paradox, parallel, principle,
    # method and definition questions
    r"(?:reasoning|argument) (?:in|of|above)[^.?\n]{0,30}\b(?:flawed|vulnerable|questionable)|"
    r"vulnerable to (?:the )?(?:criticism|objection)|"
    r"most (?:helpful|useful|important) to (?:know|determine|establish) "
    r"(?:which|whether|in order to)|"
    r"(?:resolve|explain|reconcile)s? the (?:apparent )?(?:discrepancy|paradox|"
    r"contradiction)|parallel(?:s| to)? (?:the )?(?:reasoning|argument|"
    r"pattern)|pattern of reasoning|principles?,? if valid|"
    r"(?:argument|reasoning) proceeds by|method of (?:reasoning|argument)|"
    r"according to the (?:above )?definition|(?:fits|meets|matches) the definition|"
    # entailment asked of stated premises (LogicBench) and the set-up of a logic game
    # (AR-LSAT), read from those folds' held-out errors (not FOLIO's: its questions are
    # wrappers.json's phrasings, so a rule matching them would flatter its fold)
    r"does (?:this|that|it) (?:imply|entail)|"
    # ... not "what does it mean that", nor a question about the asker's own case
    r"(?<!what )(?<!how )does (?:this|that|it) (?:mean|follow) that"
    r"(?! (?:i|we|you|my|our|me|us)\b)|"
    r"according to the following (?:conditions|restrictions|constraints|rules)|"
    r"given these (?:conditions|restrictions|constraints))\b"
    # the rules of a game, announced before their list
    r"|\b(?:conditions|restrictions|constraints|rules) (?:govern|apply|hold|must be "
    r"(?:observed|met|followed))\b[^.:?\n]{0,100}:"
)

#: a short factual question as typed into a search box ("who wrote the song stop the world",
#: "when did the eagles last win the super bowl"): asked of nobody in the conversation
_FACTUAL_QUESTION_RE = re.compile(
    r"^(?:who|when|where|which|what year|what country|what city)\b"
    r"(?![^\n]*\b(?:i|me|my|you|your|we|us|our)\b)[^\n]{8,140}$"
)
#: a yes/no question about what could or would be ("Would a vegetarian eat a Whopper?"): an
#: inference over facts the asker leaves unstated, not a fact to recall
_HYPOTHETICAL_RE = re.compile(
    r"^(?:could|would|might)\b(?![^\n]*\b(?:i|me|my|you|your|we|us|our)\b)[^\n?]{5,150}\?$"
)
#: a direction of change or a comparison, two of which are offered as the answer ("will the
#: resistance have increased or decreased?", "will Earth become cooler or warmer?")
_COMPARATIVE = (
    r"(?:increas(?:es?|ed|ing)|decreas(?:es?|ed|ing)|more|less|larger|smaller|bigger|weaker"
    r"|stronger|higher|lower|faster|slower|greater|fewer|hotter|colder|warmer|cooler|heavier"
    r"|lighter|closer|farther|further|longer|shorter|louder|quieter|easier|harder|thicker"
    r"|thinner|brighter|dimmer|rise|fall|grow|shrink)"
)
#: a what-if: a change supposed, its effect asked ("suppose more rain falls, how will it affect
#: ...", "... will the current increase or decrease?"): a stated relation to apply
_WHAT_IF_RE = re.compile(
    r"\bsuppose\b[^.?\n]{3,150}\bhow (?:will|would|does) (?:it|this|that) "
    r"(?:affect|influence|change)"
    r"|\bsupposed perturbation\b"
    rf"|\b{_COMPARATIVE}\s+or\s+{_COMPARATIVE}\s*\?"
)

_Boosts = list[tuple[str, str, float]]  # (signal, task, logit boost)
#: rules a system prompt does not fire: its persona ("You are a support agent for ...") is the
#: deployment's, not the task of the request
_NOT_FROM_SYSTEM = frozenset({"rule:role_play"})


def _last_sentence(head: str, tail: str) -> str:
    """The last sentence of a message (its end is ``tail``, or all of ``head`` if short)."""
    return _SENTENCE_END_RE.split((tail or head).strip())[-1]


def _asks_to_compose(low: str, tail: str) -> bool:
    """A request to compose, at the message's start, in its last sentence or on its last line
    ("Given the list of concepts: ski, mountain; \nGenerate a sentence with all of them")."""
    end = (tail or low).rstrip(" \n.:")
    return any(
        _COMPOSE_RE.match(part) is not None
        for part in (low.lstrip(), _last_sentence(low, tail), end[end.rfind("\n") + 1 :])
    )


def _asks_about_passage(text: str) -> bool:
    """A short question on its first line ("Who founded Novartis?", "Tell me about Reno"),
    then the passage it is about."""
    newline = text.find("\n", 0, _QUESTION_CHARS + 1)
    passage = text[newline + 1 : newline + 1 + _PASSAGE_CHARS]
    first = text[:newline].rstrip()
    return (
        newline > 0
        and (first.endswith("?") or _QUESTION_WORD_RE.match(first) is not None)
        and len(passage) == _PASSAGE_CHARS
        and not passage.isspace()
        and _FIRST_PERSON_RE.search(passage) is None  # not the asker's own context
    )


def _without_choices(text: str) -> str:
    """The text without the options of a multiple-choice question listed at its end."""
    start = max(len(text) - _CHOICES_CHARS, 0)
    choices = _CHOICES_RE.search(text, start)
    return text[: choices.start()] if choices else text


def _matches(pattern: re.Pattern[str], text: str, limit: int) -> int:
    """How many times ``pattern`` matches ``text``, counting no further than ``limit``."""
    return sum(1 for _ in islice(pattern.finditer(text), limit))


def _rules(text: str) -> _Boosts:
    """Strong-signal rules over one message: (signal, task, boost) for each that fires."""
    text = _without_choices(text)
    head = text[:_RULE_CHARS]
    low = head.lower()
    hits: _Boosts = []
    if "[asy]" in low:  # an Asymptote figure: the drawing of a geometry problem, not a program
        hits.append(("rule:math_figure", "math", 2.0))
        head = _FIGURE_RE.sub(" ", head)
        low = head.lower()
    code = False
    if "```" in head:
        hits.append(("rule:code_fence", "coding", 2.0))
        code = True
    if _STACK_TRACE_RE.search(low):
        hits.append(("rule:stack_trace", "coding", 2.5))
        code = True
    if _matches(_CODE_LINE_RE, low, 2) == 2:
        hits.append(("rule:code_syntax", "coding", 1.5))
        code = True
    if _SIGNATURE_RE.search(head):
        hits.append(("rule:function_signature", "coding", 2.0))
        code = True
    if _DATA_STRUCTURE_RE.search(low):
        hits.append(("rule:data_structure", "coding", 1.0))
    if _matches(_CODE_TOKEN_RE, head, 2) == 2:
        hits.append(("rule:code_tokens", "coding", 1.0))
        code = True
    if not code and _INLINE_CODE_RE.search(head):
        hits.append(("rule:inline_code", "coding", 1.0))
        code = True
    term = not code and _CODE_TERM_RE.search(low)
    if term:
        hits.append(("rule:code_term", "coding", 1.0))

    for match in _TRANSLATE_RE.finditer(low[:400]):
        target = match.group(1)
        if target in _NATURAL_LANGUAGES:
            hits.append(("rule:translate_to_language", "translation", 3.0))
            break
        if target in _PROGRAMMING_LANGUAGES:
            hits.append(("rule:code_conversion", "coding", 2.5))
            code = True
            break
    else:
        say = _SAY_IN_RE.search(low[:400]) or _LANG_FOR_RE.search(low[:400])
        if say and say.group(1) in _NATURAL_LANGUAGES:
            hits.append(("rule:say_in_language", "translation", 2.5))
        elif _FOREIGN_TRANSLATE_RE.search(low[:400]):
            hits.append(("rule:translate_request", "translation", 2.5))

    if not code and _matches(_MATH_RE, low, 2) == 2:
        hits.append(("rule:math_notation", "math", 1.5))
    tail = text[-_RULE_TAIL_CHARS:].lower() if len(text) > _RULE_CHARS else ""
    summary = _SUMMARY_RE.search(low)
    after_text = not summary and _SUMMARY_RE.search(tail)
    if (summary or after_text) and _FROM_SUMMARY_RE.search(low):
        summary = after_text = None  # the summary is the material to write from
    if summary:
        hits.append(("rule:summarize", "summarization", 4.0 if summary.start() < 80 else 1.5))
    elif after_text:
        hits.append(("rule:summarize_after_text", "summarization", 3.0))
    extract = _EXTRACT_RE.search(low) or _EXTRACT_RE.search(tail)
    if extract:
        structured = _STRUCTURE_RE.search(low) or _STRUCTURE_RE.search(tail)
        hits.append(("rule:extract", "extraction", 2.0 if structured else 1.0))
    if len(text) > _PASSAGE_CHARS + _QUESTION_CHARS and _GROUNDED_RE.search(low):  # text given
        hits.append(("rule:about_given_text", "extraction", 2.5))
    if _asks_about_passage(text):
        hits.append(("rule:question_on_text", "extraction", 1.5))
    if _LABEL_RE.search(low) or _LABEL_RE.search(tail):
        hits.append(("rule:label_text", "extraction", 3.0))
    # code, or a named language: a request for a program, whatever decision it weighs or
    # quantities its inputs hold ("a Python function to calculate the area ...")
    asks_program = code or bool(term)
    decision = not asks_program and bool(
        _DECISION_RE.search(low)
        or _DECISION_RE.search(tail)
        or (len(text) > _SITUATION_CHARS and _DECISION_AT_END_RE.search(text[-400:].lower()))
    )
    if not (summary or after_text) and _asks_to_compose(low, tail):
        # 3.0: a told story, then "Write a story about it.", reads as a story to reason about
        # (TRACIE's stories and the riddles' told puzzles pull it to reasoning)
        hits.append(("rule:compose", "writing", 3.0))
    elif not code and _REWRITE_RE.match(low.lstrip()):
        hits.append(("rule:rewrite", "writing", 2.0))
    elif not decision and _ROLE_PLAY_RE.match(low.lstrip()):  # "You are a doctor. Should you"
        hits.append(("rule:role_play", "writing", 2.0))
    elif not summary and _STORY_PREMISE_RE.search(low):
        hits.append(("rule:story_premise", "writing", 1.5))
    quantities = (
        _matches(_NUMBER_RE, low, 3) if not asks_program and _QUANTITY_RE.search(low) else 0
    )
    if quantities >= 2:
        hits.append(("rule:word_problem", "math", 2.5 if quantities >= 3 else 1.5))
    if _PUZZLE_RE.search(low) or _PUZZLE_RE.search(tail):
        hits.append(("rule:puzzle", "reasoning", 2.5))
    if _ARGUMENT_RE.search(low) or _ARGUMENT_RE.search(tail):
        hits.append(("rule:argument", "reasoning", 2.0))
    if decision:
        hits.append(("rule:decision", "reasoning", 1.5))
    if not asks_program and (_WHAT_IF_RE.search(low) or _WHAT_IF_RE.search(tail)):
        hits.append(("rule:what_if", "reasoning", 1.5))
    if len(low) < 40 and _GREETING_RE.match(low.strip()):
        hits.append(("rule:greeting", "chat", 2.5))
    if not hits and _FACTUAL_QUESTION_RE.match(low.strip()):
        hits.append(("rule:factual_question", "knowledge", 1.0))
    elif not hits and _HYPOTHETICAL_RE.match(low.strip()):
        hits.append(("rule:hypothetical", "reasoning", 1.5))
    return hits


# ----------------------------------------------------------------------- classification


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
        )
    return ""


def _segments(messages: list[dict[str, Any]]) -> list[tuple[str, float, str]]:
    """(text, weight, role) per message read: the last user turn 1.0, older turns decaying."""
    texts = [(str(m.get("role", "user")), _message_text(m)) for m in messages]
    last_user = max((i for i, (role, t) in enumerate(texts) if role == "user" and t), default=-1)
    if last_user < 0:
        last_user = max((i for i, (_, t) in enumerate(texts) if t), default=-1)
    if last_user < 0:
        return []
    segments = [(texts[last_user][1], 1.0, texts[last_user][0])]
    earlier = [(i, role, t) for i, (role, t) in enumerate(texts) if t and i != last_user]
    recent = [x for x in earlier if x[1] != "system"][-_MAX_CONTEXT_MESSAGES:]
    for i, role, text in [x for x in earlier if x[1] == "system"][:1] + recent:
        distance = abs(last_user - i)
        base = {"system": 0.3, "user": 0.5, "assistant": 0.2}.get(role, 0.1)
        segments.append((text, base * (0.7 ** (distance - 1) if role != "system" else 1.0), role))
    return segments


def _argmax(values: list[float]) -> int:
    return max(range(len(values)), key=values.__getitem__)


@lru_cache(maxsize=1024)
def _scored(text: str) -> tuple[tuple[float, ...], tuple[tuple[str, str, float], ...]]:
    """A segment's logits and rule hits. Cached: a conversation's system prompt and earlier
    turns come back on every request of that conversation, and so do common prompts."""
    return tuple(_get_model().logits(text)), tuple(_rules(text))


def model_logits(text: str) -> list[float]:
    """One message's logits from the linear model alone, before the rules (for training)."""
    return _get_model().logits(text)


def rule_boosts(text: str) -> list[float]:
    """Each class's boost from the rules that fire on one user message: with
    ``model_logits`` it sums to ``task_scores`` of that message. The rules are not trained on,
    so held-out logits stored once can be re-scored with changed rules in seconds."""
    boosts = [0.0] * len(TASKS)
    for _, task, boost in _rules(text):
        boosts[TASKS.index(task)] += boost
    return boosts


def task_scores(
    messages: list[dict[str, Any]], *, has_tools: bool = False, json_output: bool = False
) -> list[float]:
    """Each class's score (logit) for a conversation, before the temperature."""
    return _classify(messages, has_tools, json_output)[0]


def classify_messages(
    messages: list[dict[str, Any]], *, has_tools: bool = False, json_output: bool = False
) -> Classification:
    """Classify an OpenAI chat conversation, weighting its last user turn most."""
    return _classify(messages, has_tools, json_output)[1]


def _classify(
    messages: list[dict[str, Any]], has_tools: bool, json_output: bool
) -> tuple[list[float], Classification]:
    model = _get_model()
    index = {task: i for i, task in enumerate(model.classes)}
    segments = _segments(messages)
    total = sum(weight for _, weight, _ in segments) or 1.0
    combined = [0.0] * len(model.classes) if segments else list(model.bias)
    boosts = [0.0] * len(model.classes)
    reasons: list[tuple[int, str]] = []
    last_only: list[float] = []
    for n, (text, weight, role) in enumerate(segments):
        logits, rules = _scored(text)
        if role == "system":
            rules = tuple(hit for hit in rules if hit[0] not in _NOT_FROM_SYSTEM)
        for c, value in enumerate(logits):
            combined[c] += value * weight / total
        for signal, task, boost in rules:
            boosts[index[task]] += boost * weight
            reasons.append((index[task], signal if n == 0 else "context:" + signal))
        if n == 0:
            last_only = list(logits)
            for _, task, boost in rules:
                last_only[index[task]] += boost
    if has_tools:
        boosts[index["extraction"]] += 0.5
        boosts[index["coding"]] += 0.3
        reasons += [(index["extraction"], "request:tools"), (index["coding"], "request:tools")]
    if json_output:
        boosts[index["extraction"]] += 1.0
        reasons.append((index["extraction"], "request:json_output"))
    scores = [a + b for a, b in zip(combined, boosts, strict=True)]
    winner = _argmax(scores)
    top = scores[winner]
    confidence = 1.0 / sum(math.exp((s - top) / model.temperature) for s in scores)
    signals = [signal for c, signal in reasons if c == winner]
    signals.append("model" if segments else "empty")
    if len(segments) > 1 and _argmax(last_only) != winner:
        signals.append("context")
    return scores, Classification(
        model.classes[winner], round(confidence, 4), tuple(dict.fromkeys(signals))
    )


def classify_text(text: str) -> Classification:
    """Classify a single prompt."""
    return classify_messages([{"role": "user", "content": text}])
