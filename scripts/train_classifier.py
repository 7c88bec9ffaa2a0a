"""Train the embedded task classifier and write functions/modelyard/routing/classifier.bin.

    .venv/bin/python scripts/train_classifier.py            # train from data/routing/train
    .venv/bin/python scripts/train_classifier.py --prepare-public ../shared/data/routing

Training data: every ``data/routing/train/*.jsonl`` file (fields ``prompt``, ``task``) plus
prompts generated here from templates with slot filling (``generate_examples``), so that
every class has many varied phrasings and no benchmark format dominates. ``--prepare-public``
(re)creates the mapped public subsets in data/routing/train (GSM8K, Alpaca seed tasks)
from the shared copies; see data/routing/SOURCES.md. The evaluation set
(data/routing/eval) is never read here.

Deterministic: fixed seeds, fixed data order, single-threaded numpy arithmetic.
Needs numpy (a dev-only dependency); the classifier itself does not.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from modelyard.routing import classifier  # noqa: E402

TRAIN_DIR = ROOT / "data" / "routing" / "train"
SEED = 20240531
T = TypeVar("T")

# ----------------------------------------------------------------------------- templates
# fmt: off
# Each generator returns prompts for one class. The slot lists are deliberately broad: the
# model should learn the vocabulary of a task, not the shape of one template.


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[rng.randrange(len(items))]


def _casing(rng: random.Random, text: str) -> str:
    """Users type in every style: keep some prompts lower-case and without final stops."""
    roll = rng.random()
    if roll < 0.2:
        text = text.lower()
    if roll > 0.85:
        text = text.rstrip(".?!")
    return text


LANGS = [
    "Python", "JavaScript", "TypeScript", "Java", "Go", "Rust", "C", "C++", "C#", "Ruby", "PHP",
    "Kotlin", "Swift", "Scala", "Bash", "PowerShell", "R", "Haskell", "Elixir", "Dart", "Lua",
    "Julia", "Perl", "SQL",
]
CODE_VERBS = [
    "Write", "Implement", "Create", "Code up", "Give me", "Show me", "Can you write", "I need",
    "Help me write", "Could you implement", "Build", "Generate", "pls write", "Write me", "Sketch",
]
CODE_ARTIFACTS = [
    "function", "script", "class", "program", "method", "module", "CLI tool", "REST endpoint",
    "helper", "utility", "snippet", "decorator", "middleware", "unit test", "async function",
    "generic function", "struct with methods", "React hook", "lambda", "cron job",
]
CODE_TASKS = [
    "parses a CSV file and returns the rows as dictionaries",
    "reverses a singly linked list in place", "validates an email address",
    "merges two sorted arrays", "retries an HTTP request with exponential backoff",
    "counts word frequencies in a text file", "flattens a nested list",
    "checks if a string is a palindrome", "computes the Levenshtein distance",
    "reads a JSON config and falls back to defaults", "paginates results from an API",
    "resizes every image in a folder", "deduplicates records by email",
    "implements a thread-safe queue", "rate-limits calls to 10 per second", "uploads a file to S3",
    "sends an email with an attachment", "finds the shortest path in a grid with BFS",
    "serialises a binary tree to a string", "caches results with a TTL",
    "watches a directory for new files", "converts Markdown to HTML",
    "streams a large file in chunks", "hashes passwords with salt",
    "scrapes the titles from a web page", "connects to Postgres and runs a migration",
    "debounces a callback", "implements a trie with insert and search",
    "parses command-line flags", "generates a UUID v4", "sorts a dictionary by value",
    "validates a JWT and returns its claims", "schedules a job every five minutes",
    "implements quicksort", "detects a cycle in a directed graph",
    "compresses a folder into a zip archive", "formats a number as currency",
    "reads environment variables into a typed settings object",
    "tails a log file and prints lines matching a pattern", "implements the observer pattern",
    "batch inserts rows into a database", "builds a min-heap from scratch",
    "exposes a health check endpoint",
]
ERRORS = [
    "TypeError: 'NoneType' object is not subscriptable", "IndexError: list index out of range",
    "KeyError: 'id'", "ModuleNotFoundError: No module named 'requests'",
    "TypeError: Cannot read properties of undefined (reading 'map')",
    "Uncaught ReferenceError: process is not defined", "segmentation fault (core dumped)",
    "java.lang.NullPointerException", "error[E0499]: cannot borrow `v` as mutable more than once",
    "SyntaxError: unexpected EOF while parsing", "Permission denied (publickey)",
    "CONFLICT (content): Merge conflict in app.py", "ECONNREFUSED 127.0.0.1:5432",
    "ERROR: deadlock detected", "OOMKilled", "CrashLoopBackOff",
    "ImportError: cannot import name 'x' from partially initialized module",
    "RecursionError: maximum recursion depth exceeded", "undefined reference to `main'",
    "fatal: refusing to merge unrelated histories", "npm ERR! code ERESOLVE",
    "ValueError: too many values to unpack", "AttributeError: 'str' object has no attribute 'get'",
    "panic: runtime error: index out of range", "UnicodeDecodeError: 'utf-8' codec can't decode",
    "NameError: name 'df' is not defined", "Error: listen EADDRINUSE: address already in use",
    "ORA-00942: table or view does not exist", "CORS error on preflight request",
    "a 500 Internal Server Error from my own API",
]
ACTIONS = [
    "run my tests", "start the server", "deploy to production", "call the API",
    "build the Docker image", "import the module", "push to GitHub", "run the migration",
    "load the page", "compile", "loop over the results", "parse the response",
    "open the database connection", "run the script on the server", "install dependencies",
]
SNIPPETS = [
    'def add(items=[]):\n    items.append(1)\n    return items',
    'for (var i = 0; i < 5; i++) {\n  setTimeout(() => console.log(i), 100);\n}',
    'SELECT user_id, COUNT(*) FROM orders WHERE total > 100',
    'int *p = malloc(10);\nfree(p);\nfree(p);',
    'let v = vec![1, 2, 3];\nlet first = &v[0];\nv.push(4);\nprintln!("{}", first);',
    'public int sum(List<Integer> xs) {\n    int s = 0;\n    for (int x : xs) s += x;\n    '
    'return s;\n}',
    'const data = await fetch(url).json();', "if x = 5:\n    print('five')",
    'func handler(w http.ResponseWriter, r *http.Request) {\n    fmt.Fprintf(w, "ok")\n}',
    "df = pd.read_csv('sales.csv')\ndf['total'] = df.price * "
    "df.qty\ndf.groupby('region').sum()",
    "with open('data.txt') as f:\n    lines = f.readlines()\nprint(len(lines))",
    'class Stack:\n    def __init__(self):\n        self.items = []\n    def pop(self):\n    '
    '    return self.items.pop()',
    'useEffect(() => {\n  fetchData();\n});',
    '#!/bin/bash\nfor f in *.txt; do\n  mv $f ${f%.txt}.md\ndone',
    'UPDATE accounts SET balance = balance - 100 WHERE id = 7;',
    'x = [i*i for i in range(10) if i % 2]',
    'while True:\n    data = sock.recv(1024)\n    if not data:\n        break',
    'std::vector<int> v;\nfor (auto it = v.begin(); it != v.end(); ++it) v.erase(it);',
    'const [count, setCount] = useState(0);\nsetCount(count + 1);\nsetCount(count + 1);',
    'try:\n    risky()\nexcept:\n    pass',
    'fn main() {\n    let s = String::from("hi");\n    take(s);\n    println!("{}", s);\n}',
    'docker run -p 80:8080 -v $(pwd):/app myimage',
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80',
    'git reset --hard HEAD~1',
    '$users = $db->query("SELECT * FROM users WHERE id = " . $_GET[\'id\']);',
]
SNIPPET_ASKS = [
    "What does this code do?", "Why doesn't this work?", "Can you review this?",
    "Is there a bug here?", "How can I make this faster?", "Add type hints and docstrings.",
    "Write unit tests for this.", "Explain this line by line.", "Refactor this to be cleaner.",
    "Is this safe? It feels wrong.", "Convert this to async.", "Why does this leak memory?",
    "what's wrong with this", "Rewrite this more idiomatically.", "Add error handling.",
]
CODE_CONCEPTS = [
    ("a list", "a tuple"), ("== ", "is"), ("an interface", "an abstract class"),
    ("a process", "a thread"), ("git merge", "git rebase"), ("let", "var"),
    ("a pointer", "a reference"), ("async/await", "threads"), ("a map", "a flatMap"),
    ("SQL JOIN", "a subquery"), ("props", "state"), ("a mutex", "a semaphore"), ("PUT", "PATCH"),
    ("a shallow copy", "a deep copy"), ("Box", "Rc"), ("unit tests", "integration tests"),
    ("a goroutine", "an OS thread"), ("INNER JOIN", "LEFT JOIN"), ("npm", "yarn"),
    ("a class method", "a static method"), ("composition", "inheritance"),
    ("a generator", "a list comprehension"),
]
DEV_TASKS = [
    "set up a virtual environment", "squash my last commits", "undo a pushed commit",
    "expose a port", "mount a volume", "roll back a deployment", "add a cron job",
    "configure a reverse proxy", "set environment variables", "write a multi-stage build",
    "cache dependencies in CI", "run tests in parallel", "profile memory usage",
    "set up a pre-commit hook", "add a database index", "debug a failing pipeline",
    "split a monorepo", "configure TLS", "limit container memory", "tag a release",
]
DEV_TOOLS = [
    "Docker", "Kubernetes", "git", "GitHub Actions", "Terraform", "nginx", "webpack", "Vite",
    "pip", "Poetry", "npm", "Gradle", "Maven", "Helm", "Ansible", "systemd", "Jenkins",
    "GitLab CI", "AWS Lambda", "Postgres", "Redis", "Django", "Flask", "FastAPI", "Spring Boot",
    "Next.js", "React", "Vue", "Angular", "Rails", "Laravel", "pytest", "Jest", "CMake",
    "the Linux command line", "PowerShell", "Excel VBA", "WordPress", "Unity", "Godot",
    "Roblox Studio", "MATLAB", "Spark", "Databricks", "Airflow", "Prometheus", "Grafana",
    "Tailscale", "Home Assistant", "Selenium", "Playwright", "ffmpeg", "SSH", "cron", "VS Code",
    "Xcode", "Android Studio", "Firebase", "Supabase", "Streamlit", "Jupyter",
]
PLATFORM_THINGS = [
    "Chrome extension", "VS Code extension", "WordPress plugin", "Discord bot", "Slack app",
    "Roblox module", "Unity script", "Excel macro", "Google Apps Script", "iOS widget",
    "Android app screen", "browser userscript", "Telegram bot", "Blender add-on", "Minecraft mod",
    "GitHub Action", "Shopify theme section", "Obsidian plugin",
]
PLATFORM_GOALS = [
    "saves the current page as PDF", "counts words in the selection", "posts a daily summary",
    "tracks player inventory", "renames files in bulk", "shows a countdown timer",
    "clears the cache when settings change", "sends a message when a build fails",
    "adds a dark mode toggle", "exports a table to CSV", "moves a sprite with arrow keys",
]
DATA_STRUCTURES = [
    "array", "string", "linked list", "binary tree", "graph", "matrix", "list of intervals",
    "stream of integers", "grid",
]
ALGO_GOALS = [
    "find the length of the longest increasing subsequence", "return the k most frequent elements",
    "count the number of islands", "find the maximum sum of a contiguous subarray",
    "merge all overlapping intervals", "find the minimum number of coins that make up the amount",
    "determine whether it can be partitioned into two subsets with equal sum",
    "return the shortest path from the top-left to the bottom-right cell",
    "find the longest substring without repeating characters",
    "check whether a valid topological order exists", "find the median in O(log n) time",
    "count pairs whose difference is exactly k", "find the lowest common ancestor of two nodes",
]
SQL_TASKS = [
    "finds duplicate emails in the users table", "returns the second highest salary",
    "counts orders per customer per month", "lists products that were never ordered",
    "computes a 7-day rolling average of daily sales", "deletes rows older than 90 days",
    "joins employees with their managers", "pivots monthly revenue into columns",
    "finds customers who ordered in every quarter", "ranks players by score within each team",
]
REGEX_TARGETS = [
    "US phone numbers", "dates in YYYY-MM-DD format", "hex colour codes", "IPv4 addresses",
    "strong passwords", "URLs starting with https", "words in all caps", "HTML tags",
    "semantic version numbers", "email addresses", "trailing whitespace", "credit card numbers",
]


def gen_coding(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    for _ in range(n):
        kind = rng.randrange(12)
        lang = _pick(rng, LANGS)
        if kind == 0:
            text = f"{_pick(rng, CODE_VERBS)} a {lang} {_pick(rng, CODE_ARTIFACTS)} that "
            text += _pick(rng, CODE_TASKS) + "."
        elif kind == 1:
            text = f"I'm getting {_pick(rng, ERRORS)} when I {_pick(rng, ACTIONS)}. "
            text += _pick(
                rng,
                [
                    "How do I fix it?",
                    "Any idea why?",
                    "What am I doing wrong?",
                    "help",
                    "What does it mean?",
                    f"This is {lang} btw.",
                ],
            )
        elif kind == 2:
            snippet = _pick(rng, SNIPPETS)
            if rng.random() < 0.5:
                snippet = f"```\n{snippet}\n```"
            ask = _pick(rng, SNIPPET_ASKS)
            text = f"{ask}\n\n{snippet}" if rng.random() < 0.6 else f"{snippet}\n\n{ask}"
        elif kind == 3:
            a, b = _pick(rng, CODE_CONCEPTS)
            text = _pick(
                rng,
                [
                    f"What's the difference between {a} and {b} in {lang}?",
                    f"When should I use {a} instead of {b}?",
                    f"{a} vs {b} in {lang}, which one and why?",
                ],
            )
        elif kind == 4:
            tool = _pick(rng, DEV_TOOLS)
            text = _pick(
                rng,
                [
                    f"How do I {_pick(rng, DEV_TASKS)} with {tool}?",
                    f"{tool}: how to {_pick(rng, DEV_TASKS)}",
                    f"What's the best way to {_pick(rng, DEV_TASKS)} in {tool}?",
                ],
            )
        elif kind == 5:
            text = f"Write a SQL query that {_pick(rng, SQL_TASKS)}."
        elif kind == 6:
            text = _pick(
                rng,
                [
                    f"Regex for {_pick(rng, REGEX_TARGETS)}?",
                    f"Give me a regular expression that matches {_pick(rng, REGEX_TARGETS)}.",
                ],
            )
        elif kind == 7:
            other = _pick(rng, LANGS)
            text = _pick(
                rng,
                [
                    f"Convert this {lang} code to {other}:\n{_pick(rng, SNIPPETS)}",
                    f"Port my {lang} {_pick(rng, CODE_ARTIFACTS)} to {other}.",
                    f"Translate this function from {lang} into {other}.",
                ],
            )
        elif kind == 8:
            n, k = rng.randint(5, 10), rng.randint(2, 9)
            sample = " ".join(str(rng.randint(0, 99)) for _ in range(n))
            text = (
                f"Given a {_pick(rng, DATA_STRUCTURES)} of n integers, "
                f"{_pick(rng, ALGO_GOALS)}. Constraints: 1 <= n <= 10^{k % 3 + 4}, values "
                f"up to 10^9."
            )
            text += _pick(
                rng,
                [
                    f"\nInput\nThe first line contains t ({k} test cases).\n{n}\n{sample}\n"
                    f"Output\nPrint the answer for each test case.",
                    f"\nExample: input [{sample.replace(' ', ', ')}], k = {k}.",
                    f" Solve it in {lang}.",
                    " What's the optimal time complexity?",
                    "",
                ],
            )
        elif kind == 9:
            text = _pick(
                rng,
                [
                    f"{_pick(rng, CODE_VERBS)} a {_pick(rng, PLATFORM_THINGS)} that "
                    f"{_pick(rng, PLATFORM_GOALS)}.",
                    f"How can I {_pick(rng, DEV_TASKS)} on {_pick(rng, DEV_TOOLS)}?",
                    "How do I "
                    f"{_pick(rng, ['merge two', 'convert', 'batch rename', 'compress', 'split'])}"
                    f" {_pick(rng, ['PDF', 'CSV', 'gpx', 'mp4', 'log', 'JSON'])} files with "
                    f"{_pick(rng, DEV_TOOLS)}?",
                ],
            )
        elif kind == 10:
            header = _pick(
                rng,
                ["time,value,label", "id,price,qty", "date,open,close,volume", "user,score,level"],
            )
            data = "\n".join(",".join(str(rng.randint(0, 999)) for _ in range(3)) for _ in range(4))
            text = (
                f"Here is the head of my CSV:\n{header}\n{data}\n"
                f"{_pick(rng, CODE_VERBS)} {lang} code that "
                f"{_pick(rng, CSV_JOBS)}."
            )
        else:
            text = _pick(
                rng,
                [
                    f"My {lang} tests pass locally but fail in CI. Where do I start?",
                    f"How do I structure a large {lang} project?",
                    f"Is {lang} a good choice for a {_pick(rng, ['web backend', 'CLI', 'game'])}?"
                    f" What libraries would you use?",
                    f"Explain closures in {lang} with an example.",
                    f"How does garbage collection work in {lang} and how do I avoid pauses?",
                    f"Why is my {lang} app using so much memory?",
                    f"What are the best practices for error handling in {lang}?",
                    f"Make my {_pick(rng, DEV_TOOLS)} app faster, the API takes 3 seconds.",
                ],
            )
        out.append(_casing(rng, text))
    return out


NAMES = [
    "Ana", "Ben", "Chloe", "Dev", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kofi",
    "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor",
    "Wen", "Yara", "Zoe",
]
ITEMS = [
    "apples", "pencils", "stickers", "marbles", "books", "cupcakes", "tickets", "shirts",
    "bottles", "cards", "eggs", "boxes", "coins", "tiles", "plants",
]


def _poly(rng: random.Random) -> str:
    a, b, c = rng.randint(1, 9), rng.randint(-9, 9), rng.randint(-20, 20)
    return f"{a}x^2 {'+' if b >= 0 else '-'} {abs(b)}x {'+' if c >= 0 else '-'} {abs(c)}"


def gen_math(rng: random.Random, n: int) -> list[str]:
    funcs = [
        "x^3 - 2x",
        "sin(x)cos(x)",
        "e^(2x)",
        "ln(x^2 + 1)",
        "x·e^x",
        "sqrt(x)",
        "1/x",
        "tan(x)",
        "x^2 ln(x)",
        "(x+1)/(x-1)",
        "arctan(x)",
        "3x^4 - x + 7",
    ]
    proofs = [
        "there are infinitely many primes",
        "the sum of two even numbers is even",
        "sqrt(2) is irrational",
        "n^3 - n is divisible by 6 for every integer n",
        "the angles of a triangle add up to 180 degrees",
        "1 + 2 + ... + n = n(n+1)/2",
        "every bounded monotone sequence converges",
        "the product of two odd numbers is odd",
        "a tree with n vertices has n - 1 edges",
        "there is no largest rational number",
        "the harmonic series diverges",
        "every finite integral domain is a field",
        "2^n > n^2 for n >= 5",
        "the composition of two injective functions is injective",
    ]
    shapes = [
        ("circle", "radius"),
        ("square", "side"),
        ("sphere", "radius"),
        ("cube", "edge"),
        ("cylinder", "radius and height"),
        ("cone", "radius and height"),
    ]
    out: list[str] = []
    for _ in range(n):
        kind = rng.randrange(14)
        a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 30)
        if kind == 0:
            op = _pick(rng, ["+", "-", "*", "/", "×", "÷"])  # noqa: RUF001
            text = _pick(
                rng,
                [
                    f"What is {a} {op} {b}?",
                    f"calculate {a}{op}{b}",
                    f"{a} {op} {b} * {c} = ?",
                    f"compute ({a} + {b}) × {c}",  # noqa: RUF001
                ],
            )
        elif kind == 1:
            text = _pick(
                rng,
                [
                    f"What is {c}% of {a * 10}?",
                    f"{a} is what percent of {b * 3}?",
                    f"Increase {a * 5} by {c}% and then decrease by {c}%.",
                    f"A price rises from ${a} to ${a + b}. What is the % change?",
                ],
            )
        elif kind == 2:
            text = _pick(
                rng,
                [
                    f"Solve {a}x + {b} = {c}",
                    f"Solve for x: {_poly(rng)} = 0",
                    f"Find x if {a}(x - {c}) = {b}x + {c}",
                    f"Solve the system {a}x + {b}y = {c}, x - y = {rng.randint(1, 9)}.",
                    f"Factor {_poly(rng)}",
                    f"What are the roots of {_poly(rng)}?",
                ],
            )
        elif kind == 3:
            f = _pick(rng, funcs)
            text = _pick(
                rng,
                [
                    f"Differentiate f(x) = {f}",
                    f"Find the derivative of {f}.",
                    f"Integrate {f} dx",
                    f"Evaluate the integral of {f} from 0 to 1",
                    f"Find the limit of {f} as x approaches 0",
                    f"What is the second derivative of {f}?",
                    f"Find the Taylor series of {f} around x = 0.",
                ],
            )
        elif kind == 4:
            text = f"Prove that {_pick(rng, proofs)}."
            if rng.random() < 0.3:
                text = f"Can you show me why {_pick(rng, proofs)}?"
        elif kind == 5:
            text = _pick(
                rng,
                [
                    f"I roll {c % 4 + 2} dice. What is the probability that the sum is {c}?",
                    f"A bag has {a % 10 + 2} red and {b % 10 + 2} green balls. If I draw 2 without "
                    f"replacement, what's the probability they are the same colour?",
                    f"What is the probability of getting at least {c % 5 + 1} heads in 6 coin "
                    "flips?",
                    f"In how many ways can {c % 8 + 3} people sit in a row?",
                    f"How many {c % 4 + 3}-letter codes can be made from 26 letters without "
                    "repeats?",
                    f"Compute C({c}, {c // 2}).",
                ],
            )
        elif kind == 6:
            data = ", ".join(str(rng.randint(1, 60)) for _ in range(rng.randint(5, 9)))
            text = _pick(
                rng,
                [
                    f"Find the mean and variance of {data}.",
                    f"What is the median of {data}?",
                    f"Compute the standard deviation of: {data}",
                    f"Find the correlation between x = {data} and its index.",
                ],
            )
        elif kind == 7:
            n1, n2 = rng.randint(2, 9), rng.randint(2, 9)
            text = _pick(
                rng,
                [
                    f"Find the determinant of [[{a}, {n1}], [{n2}, {c}]].",
                    f"Multiply the matrices [[1, {n1}], [{n2}, 0]] and [[{c}, 1], [0, 2]].",
                    f"Find the inverse of the matrix [[{n1}, 1], [2, {n2}]].",
                    f"What are the eigenvectors of [[{n1}, 0], [1, {n2}]]?",
                ],
            )
        elif kind == 8:
            text = _pick(
                rng,
                [
                    f"What is the GCD of {a * 6} and {b * 4}?",
                    f"Is {a * b + 1} prime?",
                    f"Find {a}^{c % 9 + 2} mod {b}.",
                    f"What is the LCM of {a}, {b} and {c}?",
                    f"Find the prime factorisation of {a * b * c}.",
                    f"Solve {a}x ≡ {b} (mod {c + 7}).",
                ],
            )
        elif kind == 9:
            shape, dims = _pick(rng, shapes)
            text = _pick(
                rng,
                [
                    f"Find the area and perimeter of a {shape} with {dims} {a} cm.",
                    f"What is the volume of a {shape} with {dims} {c}?",
                    f"A right triangle has legs {c} and {c + 5}. Find the hypotenuse.",
                    f"Find the angle between vectors ({a}, {c}) and ({b}, 1).",
                ],
            )
        elif kind == 10:
            p1, p2 = _pick(rng, NAMES), _pick(rng, NAMES)
            item = _pick(rng, ITEMS)
            text = _pick(
                rng,
                [
                    f"{p1} has {a} {item} and gives {c} to {p2}, then buys {b} more. How many "
                    f"{item} does {p1} have now?",
                    f"{p1} drives {a * 3} km at {c + 40} km/h and then {b} km at {c + 60} km/h. "
                    f"What is the average speed?",
                    f"{p1} can finish a job in {c} hours and {p2} in {c + 4} hours. How long "
                    f"together?",
                    f"{p1} is {c} years older than {p2}. In {c % 7 + 2} years the sum of their "
                    "ages "
                    f"will be {a + 40}. How old is each now?",
                    f"A tank fills at {c} litres per minute and drains at {c // 3 + 1}. How long "
                    "to "
                    f"fill {a * 20} litres?",
                ],
            )
        elif kind == 11:
            text = _pick(
                rng,
                [
                    f"If I save ${a * 10} a month at {c % 8 + 1}% annual interest, how much after "
                    f"{c % 20 + 5} years?",
                    f"A loan of ${a * 1000} at {c % 9 + 2}% APR over {c % 25 + 5} years: what's "
                    "the "
                    f"monthly payment?",
                    f"What is {c % 9 + 2}% compound interest on ${a * 100} over {c % 10 + 2} "
                    "years?",
                    f"Convert {a} miles per hour to metres per second.",
                    f"Convert {a * 3} degrees Fahrenheit to Celsius.",
                ],
            )
        elif kind == 12:
            text = _pick(
                rng,
                [
                    f"Sum the series 1 + 1/{c} + 1/{c}^2 + ...",
                    f"Find the {c}th term of the arithmetic sequence {a}, {a + c}, {a + 2 * c}, "
                    "...",
                    f"Does the series sum 1/n^{c % 3 + 1} converge?",
                    f"Find the sum of the first {a} terms of the geometric sequence with ratio "
                    f"{c % 4 + 2} starting at 1.",
                    "Solve the recurrence a_n = 2a_(n-1) + 1 with a_0 = 0.",
                    f"Solve dy/dx = {c}y with y(0) = {a}.",
                ],
            )
        else:
            text = _pick(
                rng,
                [
                    "Explain how to solve quadratic equations by completing the square, with an "
                    "example.",
                    "Show step by step how to find the inverse of a 3x3 matrix.",
                    f"How do I compute {a}/{b} as a decimal by long division?",
                    "What is the chain rule? Work through d/dx of sin(x^2).",
                    f"Simplify ({a}x^2 - {b}x) / x and state any restrictions.",
                    f"Round {a}.{b}{c} to one decimal place and express it in scientific notation.",
                    "Help me with my calculus homework: find dy/dx if x^2 + y^2 = 25.",
                    "Check my algebra: 2(x+3) = 2x + 3. Where did I go wrong?",
                ],
            )
        out.append(_casing(rng, text))
    return out


NONSENSE = [
    "bloops", "razzies", "zorbs", "flims", "grobs", "wugs", "daxes", "snarks", "tovs", "plinks",
    "quibs", "merps",
]
CATEGORIES = [
    ("dogs", "mammals", "pets"), ("roses", "flowers", "red things"),
    ("squares", "rectangles", "shapes with four sides"),
    ("pilots", "employees", "people who travel"), ("violinists", "musicians", "artists"),
    ("sparrows", "birds", "animals that fly"),
]
RELATIONS = [
    ("taller than", "tallest", "shortest"), ("older than", "oldest", "youngest"),
    ("faster than", "fastest", "slowest"), ("richer than", "richest", "poorest"),
    ("heavier than", "heaviest", "lightest"),
]
FALLACIES = [
    "Since {x} started, {y} has increased, so {x} must be causing it.",
    "If we allow {x}, next thing you know we'll have {y}.",
    "Either we ban {x} or we accept {y}; there is no middle ground.",
    "My neighbour tried {x} and hated it, so {x} is bad for everyone.",
    "You can't trust what he says about {x}; he failed maths at school.",
    "Everyone I know supports {x}, so it must be the right choice.",
    "{x} has always been done this way, so it is the best way.",
    "No one has proven that {x} is harmful, so it must be safe.",
]
FALLACY_TOPICS = [
    ("remote work", "burnout"), ("the new mayor", "crime"), ("video games", "violence"),
    ("the four-day week", "chaos"), ("electric scooters", "accidents"), ("homework", "stress"),
    ("social media", "loneliness"), ("a sugar tax", "job losses"), ("the new software", "bugs"),
    ("online classes", "lower grades"),
]
DECISIONS = [
    ("rent", "buy a flat", "I might move cities in three years"),
    ("take the higher-paying job", "stay in my current team", "I like my manager a lot"),
    ("rewrite our legacy service", "keep patching it", "the original authors have left"),
    ("hire a senior engineer", "hire two juniors", "our deadline is in six months"),
    ("go back to university", "keep working", "I'm 34 and have savings for a year"),
    ("expand to a second city", "improve the first shop", "margins are thin"),
    ("build the feature in-house", "buy a SaaS tool", "we have a small team"),
    ("launch now", "wait for the redesign", "a competitor launches next quarter"),
    ("repair the old car", "buy a used one", "the repair costs half its value"),
    ("move the data center to the cloud", "stay on-prem", "we have strict compliance rules"),
]
HYPOTHETICALS = [
    "the internet went down worldwide for a month", "everyone worked only four days a week",
    "cash disappeared overnight", "humans no longer needed sleep",
    "a city banned all private cars", "every country adopted the same currency",
    "the price of solar energy dropped to zero", "AI tutors replaced homework",
    "bees went extinct", "the Moon were twice as close", "rent were capped at 20% of income",
]
RIDDLES = [
    "What has keys but can't open locks?",
    'I speak without a mouth and hear without ears. What am I?',
    'The more you take, the more you leave behind. What am I?',
    'A woman shoots her husband, holds him under water and hangs him, yet they go to '
    'dinner together. How?',
    'What gets wetter the more it dries?',
    "A man pushes his car to a hotel and tells the owner he's bankrupt. Why?",
    "You see a boat full of people, yet there isn't a single person on board. How?",
    'What can run but never walks, has a mouth but never talks?',
    'Two fathers and two sons go fishing and catch three fish, one each. How?',
    'A rooster lays an egg on the peak of a roof. Which side does it roll down?',
    "If you have me, you want to share me; if you share me, you don't have me. What am I?",
    'A clock strikes six in five seconds. How long does it take to strike twelve?',
]
PUZZLES = [
    'Three missionaries and three cannibals must cross a river in a boat that holds two. '
    'Cannibals may never outnumber missionaries on either bank. How do they all cross?',
    'Ten prisoners wear red or blue hats and can see the hats in front of them. What '
    'strategy saves at least nine of them?',
    'You have 12 coins, one counterfeit that is lighter or heavier. How do you find it '
    'in three weighings?',
    'A king hides poison in one of 1000 bottles and you have 10 testers. How do you find '
    'it in one round?',
    'Two trains are 100 km apart and a fly zips between them. Is there a clever way to '
    "reason about the fly's distance without summing a series?",
    'A monk climbs a mountain one day and descends the next on the same path. Is there a '
    'spot he passes at the same time on both days? Argue why.',
    'You have a 7-minute and an 11-minute hourglass. How do you time exactly 15 minutes?',
    'In a village, the barber shaves everyone who does not shave themselves. Who shaves '
    'the barber?',
    'Five pirates split 100 gold coins by a voting rule. What does the most senior '
    'pirate propose, and why does it work?',
    'A lily pad doubles every day and covers the lake on day 48. On which day was it '
    'half covered? Explain the reasoning.',
    "You're given two eggs and a 100-floor building. What's the best strategy to find "
    'the highest safe floor?',
    "A father is 4 times older than his son... no wait, here's the real puzzle: how can "
    'a person be born in 2005 and be 20 years old in 2000?',
    'Four prisoners, two hat colours, a wall between them. Who can deduce their hat colour?',
    'Every day a ferry leaves each side of a lake at noon; the crossing takes 7 days. '
    'How many ferries does one ship meet?',
    'Which weighs more, a pound of feathers or a pound of bricks? Explain the trick.',
]
BIASES = [
    "the sunk cost fallacy", "survivorship bias", "the base rate fallacy", "a straw man",
    "confirmation bias", "begging the question", "the anchoring effect", "a false dichotomy",
    "the Texas sharpshooter fallacy", "an appeal to nature",
]
REASON_ASKS = [
    "Explain your reasoning.", "Think step by step.", "Justify your answer.",
    "Walk me through the logic.", "Show how you got there.", "",
]


def gen_reasoning(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    for _ in range(n):
        kind = rng.randrange(12)
        ask = _pick(rng, REASON_ASKS)
        if kind == 0:
            people = rng.sample(NAMES, rng.randint(3, 5))
            rel, most, least = _pick(rng, RELATIONS)
            facts = " ".join(f"{a} is {rel} {b}." for a, b in itertools.pairwise(people))
            q = _pick(
                rng,
                [
                    f"Who is the {most}?",
                    f"Who is the {least}?",
                    "Put them in order.",
                    f"Is {people[-1]} {rel} {people[0]}?",
                ],
            )
            text = f"{facts} {q} {ask}"
        elif kind == 1:
            x, y, z = rng.sample(NONSENSE, 3) if rng.random() < 0.5 else _pick(rng, CATEGORIES)
            text = (
                _pick(
                    rng,
                    [
                        f"All {x} are {y}. Some {y} are {z}. Does it follow that some {x} are {z}?",
                        f"If no {x} are {y} and all {z} are {y}, can any {z} be {x}?",
                        f"All {x} are {y}, and all {y} are {z}. Is the conclusion 'all {x} are "
                        f"{z}' "
                        f"valid?",
                        f"Some {x} are not {y}. All {z} are {y}. What can we conclude about {x} "
                        f"and {z}?",
                    ],
                )
                + " "
                + ask
            )
        elif kind == 2:
            a, b, c = rng.sample(NAMES, 3)
            text = (
                _pick(
                    rng,
                    [
                        f"On an island, knights always tell the truth and knaves always lie. {a} "
                        "says "
                        f"'{b} is a knave.' {b} says '{a} and I are the same kind.' What are they?",
                        f"{a} says '{b} is lying.' {b} says '{c} is lying.' {c} says 'both {a} and "
                        f"{b} are lying.' Who tells the truth?",
                        f"One of {a}, {b} and {c} broke the vase. {a}: 'It was {b}.' {b}: 'It "
                        "wasn't "
                        f"me.' {c}: 'It wasn't {a}.' Only one is telling the truth. Who did it?",
                    ],
                )
                + " "
                + ask
            )
        elif kind == 3:
            x, y = _pick(rng, FALLACY_TOPICS)
            arg = _pick(rng, FALLACIES).format(x=x, y=y)
            text = _pick(
                rng,
                [
                    f'What\'s wrong with this argument: "{arg}"',
                    f"Identify the logical fallacy: {arg}",
                    f"Is this reasoning sound? {arg}",
                    f"Critique this claim and name any hidden assumptions: {arg}",
                ],
            )
        elif kind == 4:
            a, b, context = _pick(rng, DECISIONS)
            text = _pick(
                rng,
                [
                    f"Should I {a} or {b}? {context}. Walk me through the trade-offs.",
                    f"Help me decide: {a} vs {b}. Context: {context}.",
                    f"Weigh the pros and cons of choosing to {a} rather than {b}, given that "
                    f"{context}. What would you recommend?",
                ],
            )
        elif kind == 5:
            text = _pick(
                rng,
                [
                    f"What would happen if {_pick(rng, HYPOTHETICALS)}? Think through the "
                    f"second-order effects.",
                    f"Imagine {_pick(rng, HYPOTHETICALS)}. Reason about the likely consequences.",
                    f"Suppose {_pick(rng, HYPOTHETICALS)}. Who would win and who would lose, and "
                    f"why?",
                ],
            )
        elif kind == 6:
            text = _pick(rng, RIDDLES) + (" " + ask if rng.random() < 0.4 else "")
        elif kind == 7:
            seq = _pick(
                rng,
                [
                    "2, 6, 12, 20, 30",
                    "A, C, F, J, O",
                    "1, 1, 2, 3, 5, 8",
                    "O, T, T, F, F, S, S",
                    "3, 9, 27, 81",
                    "Z, X, V, T",
                    "1, 4, 9, 16, 25",
                    "M, T, W, T, F",
                    "AZ, BY, CX",
                    "1, 11, 21, 1211, 111221",
                ],
            )
            text = f"What comes next in the pattern {seq}, ...? {ask}"
        elif kind == 8:
            people = rng.sample(NAMES, 3)
            slots = rng.sample(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"], 3)
            text = (
                f"{people[0]} can't do {slots[0]}, {people[1]} is only free on {slots[1]} "
                f"or {slots[2]}, and {people[2]} is away on {slots[1]}. Which day works for "
                f"all three? {ask}"
            )
        elif kind == 10:
            text = _pick(rng, PUZZLES) + (" " + ask if rng.random() < 0.5 else "")
        elif kind == 11:
            people = rng.sample(NAMES, 4)
            counts = rng.sample(range(1, 6), 4)
            text = _pick(
                rng,
                [
                    f"Explain why {_pick(rng, BIASES)} leads people to wrong conclusions, with an "
                    f"example.",
                    f"Is this an example of {_pick(rng, BIASES)}? "
                    f'"{_pick(rng, FALLACIES).format(x="the diet", y="weight loss")}"',
                    f"{people[0]} has more pets than {people[1]} but fewer than {people[2]}; "
                    f"{people[3]} has {counts[0]}. Together they have {sum(counts)} pets and "
                    "nobody "
                    f"has the same number. Can we tell who has the most? {ask}",
                    f"Deduce who lives on which floor: {people[0]} lives above {people[1]}, "
                    f"{people[2]} is not on floor {counts[1]}, and {people[3]} lives on the top "
                    f"floor of a {len(people)}-floor building. {ask}",
                ],
            )
        else:
            text = _pick(
                rng,
                [
                    "Three switches outside a room control three bulbs inside. You can enter the "
                    "room once. How do you tell which switch controls which bulb?",
                    "You have 8 coins and one is heavier. With a balance scale, how do you find it "
                    "in two weighings?",
                    "A snail climbs 3 m up a 10 m well each day and slides back 2 m each night. "
                    "When does it get out? Explain the trick.",
                    "How can you cut a cake into 8 equal pieces with only 3 cuts?",
                    "Why do mirrors flip left and right but not up and down? Reason it out.",
                    "If a tree falls and nobody hears it, does it make a sound? Analyse the "
                    "question.",
                    "Rank these priorities for a new startup and justify the order: hiring, "
                    "fundraising, product, marketing.",
                    "Find the flaw in my plan: I'll invest all my savings in one stock because it "
                    "went up 40% last year.",
                    "Is correlation between ice-cream sales and drownings evidence of causation? "
                    "Explain.",
                    "A puzzle: what is the minimum number of moves to solve the Tower of Hanoi "
                    "with 4 disks, and why?",
                ],
            )
        out.append(_casing(rng, text.strip()))
    return out


FORMS = [
    "poem", "haiku", "sonnet", "limerick", "short story", "essay", "blog post", "speech", "toast",
    "song", "rap verse", "screenplay scene", "dialogue", "fable", "fairy tale", "monologue",
    "free-verse poem", "flash fiction piece", "ballad", "op-ed", "newsletter intro",
    "children's story", "villanelle", "diary entry",
]
WRITE_TOPICS = [
    "autumn leaves", "a lost umbrella", "the first day of school", "a robot learning to love",
    "the ocean at night", "a city waking up", "friendship", "moving abroad", "a haunted library",
    "climate change", "my grandmother's kitchen", "a cat who rules the house",
    "the last bookstore on earth", "coffee", "a rainy Tuesday", "space exploration", "courage",
    "a dragon who can't fly", "the smell of bread", "a train journey", "growing old",
    "a time traveller stuck in 1999", "the night shift at a hospital", "a small-town mystery",
    "learning to swim", "a broken violin", "summer holidays", "a detective in Lagos",
    "the sound of the sea", "starting over", "a forgotten garden", "mountains", "home",
]
TONES = [
    "warm", "funny", "formal", "melancholic", "upbeat", "mysterious", "heartfelt", "whimsical",
    "dramatic", "professional", "casual", "inspiring", "dark",
]
DOCS = [
    "email", "letter", "memo", "message", "note", "announcement", "cover letter", "LinkedIn post",
    "Slack message", "press release", "reply", "newsletter",
]
PURPOSES = [
    "to my manager asking for a raise", "to a client apologising for a delayed delivery",
    "to my team announcing a new hire", "to a professor asking for an extension",
    "to my neighbours about a noisy party next weekend", "declining a job offer politely",
    "inviting colleagues to a farewell lunch", "thanking a mentor",
    "following up after an interview", "to a hotel complaining about a dirty room",
    "asking my landlord to fix the sink", "to customers announcing a price increase",
    "welcoming new members to our club", "to a supplier asking for a discount",
    "congratulating a friend on her promotion", "asking for a reference letter",
    "announcing our product launch", "cancelling a meeting",
]
PRODUCTS = [
    "noise-cancelling headphones", "a meal-kit service", "an indie video game",
    "a handmade candle shop", "a budgeting app", "organic dog food", "a language school",
    "a co-working space", "electric bikes", "a yoga retreat", "a coffee subscription",
    "a plant nursery", "running shoes", "a tax advice firm", "a board game cafe",
]
COPY_TYPES = [
    "taglines", "slogans", "product descriptions", "ad headlines", "tweets", "Instagram captions",
    "email subject lines", "landing page headlines", "name ideas",
]
ROUGH_SENTENCES = [
    "me and him was going to the store but it were closed",
    "we think that maybe the results is kind of good probably",
    "The report it was done by the team and it was good and it was long.",
    "pls send the docs asap we need them like yesterday",
    "Our company are the best in the market for quality and price and service.",
    "I am writing to you for informing you about the problem we have had.",
    "the event was super fun and everyone had fun and it was really fun",
    "Due to the fact that the budget is limited, we are unable to proceed at this point in time.",
    "im sorry i missed the meeting i had a thing",
    "This product is good. It is cheap. It is fast. People like it.",
]
EDIT_ASKS = [
    "Rewrite this to sound more professional:", "Proofread this:", "Fix the grammar:",
    "Make this more concise:", "Polish this sentence:", "Make this sound friendlier:",
    "Paraphrase this:", "Improve the flow of this paragraph:",
    "Rewrite this in a more formal tone:", "Make this more persuasive:", "Edit this for clarity:",
    "Can you reword this so it sounds less blunt?",
]


def gen_writing(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    verbs = [
        "Write",
        "Compose",
        "Draft",
        "Create",
        "Can you write",
        "I need",
        "Help me write",
        "Give me",
        "Pen",
        "write me",
    ]
    for _ in range(n):
        kind = rng.randrange(6)
        if kind == 0:
            text = f"{_pick(rng, verbs)} a {_pick(rng, TONES)} {_pick(rng, FORMS)} about "
            text += _pick(rng, WRITE_TOPICS) + "."
            if rng.random() < 0.3:
                text += _pick(
                    rng,
                    [
                        " Keep it under 200 words.",
                        " Make it rhyme.",
                        " For a ten-year-old.",
                        " In the style of a fairy tale.",
                        " End with a twist.",
                    ],
                )
        elif kind == 1:
            text = f"{_pick(rng, verbs)} a {_pick(rng, TONES)} {_pick(rng, DOCS)} "
            text += _pick(rng, PURPOSES) + "."
        elif kind == 2:
            text = f"{_pick(rng, verbs)} {rng.randint(3, 10)} {_pick(rng, COPY_TYPES)} for "
            text += _pick(rng, PRODUCTS) + "."
        elif kind == 3:
            text = f'{_pick(rng, EDIT_ASKS)} "{_pick(rng, ROUGH_SENTENCES)}"'
        elif kind == 4:
            text = _pick(
                rng,
                [
                    f"Give me a title and an opening line for a {_pick(rng, TONES)} novel about "
                    f"{_pick(rng, WRITE_TOPICS)}.",
                    f"Write the first chapter outline of a story about {_pick(rng, WRITE_TOPICS)}.",
                    f"Write a character description of a villain obsessed with "
                    f"{_pick(rng, WRITE_TOPICS)}.",
                    f'Continue this story: "The door creaked open and {_pick(rng, NAMES)} saw"',
                    f"Write a wedding speech for my best friend {_pick(rng, NAMES)}.",
                    f"Write a eulogy for {_pick(rng, NAMES)}, who loved "
                    f"{_pick(rng, WRITE_TOPICS)}.",
                ],
            )
        else:
            text = _pick(
                rng,
                [
                    f"Write a product description for {_pick(rng, PRODUCTS)}.",
                    "Write a short bio for a "
                    f"{_pick(rng, ['chef', 'nurse', 'architect', 'DJ', 'coach'])}"
                    f" for their website.",
                    f"Draft the 'About us' page for {_pick(rng, PRODUCTS)}.",
                    f"Write a {_pick(rng, TONES)} review of {_pick(rng, PRODUCTS)}.",
                    f"Brainstorm blog post ideas about {_pick(rng, WRITE_TOPICS)}.",
                    f"Write an outline for an essay on {_pick(rng, WRITE_TOPICS)}.",
                    "Write a cover letter for a "
                    f"{_pick(rng, ['marketing', 'nursing', 'teaching'])} "
                    f"job.",
                    f"Write a {rng.randint(3, 20) * 100}-word {_pick(rng, FORMS)} about "
                    f"{_pick(rng, WRITE_TOPICS)}.",
                    f"Write {rng.randint(2, 6)} S.M.A.R.T. goals for "
                    f"{_pick(rng, GOAL_SUBJECTS)} "
                    f"over the next {rng.randint(3, 12)} months.",
                    "Write a "
                    f"{_pick(rng, LONG_DOCS)} "
                    f"on {_pick(rng, WRITE_TOPICS + CONCEPTS)}.",
                    "Write a "
                    f"{_pick(rng, ARTICLE_KINDS)} "
                    f"about {_pick(rng, CONCEPTS)} for a general audience, {rng.randint(2, 8)} "
                    "paragraphs.",
                ],
            )
        out.append(_casing(rng, text))
    return out


ORGS = [
    "the city council", "Northwind Ltd", "the health ministry", "a local bakery", "the university",
    "OrbitTech", "the school board", "a regional airline", "the central bank", "the football club",
    "GreenLeaf Energy", "the museum",
]
NEWS_ACTIONS = [
    "announced a new plan to expand public transport", "reported a 12% rise in quarterly revenue",
    "delayed its new product launch", "approved a budget increase for schools",
    "cut 200 jobs after weak sales", "opened a research centre in the north",
    "raised interest rates by 0.25 points", "signed a deal with a foreign partner",
    "faced criticism over data privacy", "launched a recycling programme",
]
NEWS_DETAILS = [
    "Officials said the change would take effect next year.",
    "Critics argued the move came too late.", "The decision followed months of debate.",
    "Analysts expect further announcements in the spring.",
    "Local residents gave the plan a mixed reception.",
    "The cost is estimated at about $40 million.", "Unions have called for talks.",
    "The chief executive said the company remained optimistic.",
    "The project will be reviewed in two years.", "Several councillors voted against it.",
]
EMAIL_BITS = [
    "Hi team, quick update on the project.", "We finished the first phase on time.",
    "The client asked for two extra features.", "Budget is slightly over, by 5%.",
    "Testing starts next Monday.", "Please send me your hours by Friday.",
    "Marketing needs the screenshots by Wednesday.", "The office will be closed on the 14th.",
    "Let me know if you have questions.", "Thanks for all the hard work this month.",
]
REVIEW_BITS = [
    "The battery lasts all day.", "Setup took five minutes.", "The screen is too dim outdoors.",
    "Customer service was slow to reply.", "It feels well built.",
    "For the price, it's excellent.", "The app crashes sometimes.", "Shipping was fast.",
    "It's heavier than expected.", "I would buy it again.",
]
ABSTRACT_BITS = [
    "We propose a new method for detecting anomalies in sensor data.",
    "Our approach combines graph neural networks with attention.",
    "Experiments on three datasets show a 9% improvement over baselines.",
    "We also analyse failure cases and limitations.", "Code and data are released publicly.",
    "This study surveyed 1,200 teachers across five countries.",
    "Results suggest that class size matters less than teacher training.",
    "Participants who slept longer performed better on memory tasks.",
]
SUMMARY_ASKS = [
    "Summarize this:", "TL;DR:", "Can you summarise the following?", "Give me the key points:",
    "Sum this up in two sentences:", "What's the gist of this?",
    "Condense this into three bullet points:", "Summarize the text below in one sentence.",
    "Please write a short summary of:", "Boil this down for me:",
    "Recap this for someone who missed it:", "What are the main takeaways here?",
    "Give me a brief overview of this text:", "Shorten this to a paragraph:",
    "Write an executive summary of this:", "tldr pls", "Can I get the short version?",
    "Summarise for a busy manager:",
]
WORKS = [
    "Hamlet", "Pride and Prejudice", "The Great Gatsby", "1984", "Moby-Dick",
    "The Lord of the Rings", "Breaking Bad", "The Matrix", "Atomic Habits", "The Lean Startup",
    "Don Quixote", "Crime and Punishment", "Interstellar", "The Godfather",
    "To Kill a Mockingbird", "The Wealth of Nations", "Frankenstein", "Sapiens", "The Art of War",
    "Jane Eyre",
]


def gen_summarization(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    for _ in range(n):
        kind = rng.randrange(6)
        if kind == 0:
            body = f"{_pick(rng, ORGS).capitalize()} {_pick(rng, NEWS_ACTIONS)}. "
            body += " ".join(rng.sample(NEWS_DETAILS, rng.randint(2, 5)))
        elif kind == 1:
            body = " ".join(rng.sample(EMAIL_BITS, rng.randint(3, 7)))
        elif kind == 2:
            body = " ".join(rng.sample(REVIEW_BITS, rng.randint(3, 7)))
        elif kind == 3:
            body = " ".join(rng.sample(ABSTRACT_BITS, rng.randint(3, 5)))
        elif kind == 4:
            people = rng.sample(NAMES, 3)
            lines = [f"{_pick(rng, people)}: {_pick(rng, EMAIL_BITS)}" for _ in range(5)]
            body = "\n".join(lines)
        else:
            work = _pick(rng, WORKS)
            out.append(
                _casing(
                    rng,
                    _pick(
                        rng,
                        [
                            f"Summarize the plot of {work}.",
                            f"Give me a short summary of {work}.",
                            f"What are the main ideas of {work}, in a few bullet points?",
                            f"TL;DR of {work}?",
                            f"Sum up {work} in three sentences.",
                        ],
                    ),
                )
            )
            continue
        ask = _pick(rng, SUMMARY_ASKS)
        text = f"{ask}\n\n{body}" if rng.random() < 0.75 else f"{body}\n\n{ask}"
        out.append(_casing(rng, text))
    return out


TARGET_LANGS = [
    "French", "Spanish", "German", "Italian", "Portuguese", "Japanese", "Chinese", "Mandarin",
    "Korean", "Russian", "Arabic", "Hindi", "Turkish", "Dutch", "Polish", "Swedish", "Greek",
    "Vietnamese", "Thai", "Indonesian", "Hebrew", "Ukrainian", "Czech", "Romanian", "Norwegian",
    "Danish", "Finnish", "Swahili", "Tagalog", "Brazilian Portuguese", "Catalan", "Hungarian",
    "English",
]
EN_SENTENCES = [
    "Where is the nearest pharmacy?", "I would like to book a table for four.",
    "The meeting is postponed until next week.", "Thank you for your patience.",
    "How much does the ticket cost?", "Please keep this medicine in a cool place.",
    "Our office is closed on public holidays.", "Can you help me carry this bag?",
    "I'm sorry, I don't understand.", "The train to the airport leaves every ten minutes.",
    "We look forward to working with you.", "Happy birthday! I hope all your wishes come true.",
    "Your order has been shipped.", "Is breakfast included?", "I have a reservation.",
    "Please sign the contract and return it by Friday.", "Turn left at the second light.",
    "The password must contain at least eight characters.", "Do you have this in a larger size?",
    "I'm allergic to shellfish.", "Welcome to our new website!",
    "Could you speak more slowly, please?", "The weather will be sunny tomorrow.",
    "Battery low. Please connect the charger.", "I love you more than words can say.",
]
FOREIGN_SENTENCES = [
    "Je ne sais pas où se trouve la gare.", "¿Dónde está el baño, por favor?",
    "Ich möchte ein Zimmer für zwei Nächte reservieren.", "Dove posso comprare i biglietti?",
    "Obrigado pela ajuda, foi muito útil.", "今日は雨が降っています。",
    "我想买一张去北京的火车票。", "감사합니다, 좋은 하루 되세요.",
    "Мне нужно поговорить с менеджером.",  # noqa: RUF001
    "أين أقرب محطة مترو؟", "Bu akşam sinemaya gidelim mi?",
    "Ik heb mijn portemonnee verloren.", "Czy mogę zapłacić kartą?",
    "Jag förstår inte vad du menar.", "Πόσο κοστίζει αυτό;", "Tôi muốn gọi một ly cà phê sữa đá.",
    "मुझे हिंदी थोड़ी आती है।", "Saya sedang mencari hotel murah.",
    "La reunión empieza a las nueve en punto.", "Nous avons bien reçu votre commande.",
]


def gen_translation(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    for _ in range(n):
        lang = _pick(rng, TARGET_LANGS)
        s = _pick(rng, EN_SENTENCES)
        kind = rng.randrange(7)
        if kind == 0:
            text = _pick(
                rng,
                [
                    f'Translate into {lang}: "{s}"',
                    f"Translate to {lang}: {s}",
                    f'translate "{s}" into {lang}',
                    f"Please translate the following into {lang}.\n\n{s}",
                ],
            )
        elif kind == 1:
            text = _pick(
                rng,
                [
                    f'How do you say "{s}" in {lang}?',
                    f'What\'s the {lang} for "{s}"?',
                    f"How would I say '{s}' in {lang}?",
                    f'What is "{s}" in {lang}?',
                ],
            )
        elif kind == 2:
            f = _pick(rng, FOREIGN_SENTENCES)
            text = _pick(
                rng,
                [
                    f"Translate this to English: {f}",
                    f'What does "{f}" mean?',
                    f"{f}\n\nWhat does this say in English?",
                    f"Can you translate this for me? {f}",
                    f"English please: {f}",
                ],
            )
        elif kind == 3:
            text = _pick(
                rng,
                [
                    f"Can you put this into {lang} for me? {s}",
                    f"I need this in {lang}: {s}",
                    f"{lang} version please: {s}",
                    f"Render this in {lang}, keeping a formal tone: {s}",
                ],
            )
        elif kind == 4:
            strings = ", ".join(
                f'"{x}"'
                for x in rng.sample(
                    [
                        "Log in",
                        "Sign up",
                        "Settings",
                        "Save",
                        "Cancel",
                        "Delete account",
                        "Add to cart",
                        "Checkout",
                        "Search",
                        "Help",
                        "Your profile",
                    ],
                    4,
                )
            )
            text = f"Localize these UI strings into {lang}: {strings}"
        elif kind == 5:
            word = _pick(
                rng,
                [
                    "Schadenfreude",
                    "saudade",
                    "hygge",
                    "wabi-sabi",
                    "ikigai",
                    "sobremesa",
                    "dolce far niente",
                    "Fernweh",
                    "lagom",
                    "komorebi",
                    "je ne sais quoi",
                    "Gemütlichkeit",
                    "tsundoku",
                    "sisu",
                ],
            )
            text = _pick(
                rng,
                [
                    f"What does '{word}' mean in English?",
                    f"How would you translate {word} into English?",
                    f"Is there an English word for {word}?",
                ],
            )
        else:
            src, dst = rng.sample(TARGET_LANGS, 2)
            text = _pick(
                rng,
                [
                    f"Translate from {src} to {dst}: {s}",
                    f"{src} to {dst}, please: {s}",
                    f"I'm writing to a colleague in {dst.split()[-1]}-speaking "
                    f"country. Translate: {s}",
                ],
            )
        out.append(_casing(rng, text))
    return out


FIRST = [
    "Maria Lopez", "James O'Neill", "Aiko Tanaka", "Samuel Adeyemi", "Ingrid Berg", "Rahul Mehta",
    "Chen Wei", "Fatima Zahra", "Lukas Novak", "Olivia Brown",
]
COMPANIES = [
    "Brightline Logistics", "Acme Corp", "Nordwind GmbH", "Blue Harbor Foods", "Quantum Leap Labs",
    "Sunrise Dental", "Pinecrest Realty", "Helix Bio",
]
CITIES = [
    "London", "Berlin", "Austin", "Toronto", "Lagos", "Mumbai", "Sydney", "Madrid", "Seoul",
    "São Paulo",
]


def _doc(rng: random.Random) -> tuple[str, str]:
    """A synthetic document and a fitting list of fields to extract from it."""
    name, company, city = _pick(rng, FIRST), _pick(rng, COMPANIES), _pick(rng, CITIES)
    amount = f"${rng.randint(20, 9000)}.{rng.randint(10, 99)}"
    date = f"{rng.randint(1, 28)} {_pick(rng, ['March', 'June', 'October', 'January'])} 2024"
    kind = rng.randrange(8)
    if kind == 0:
        return (
            f"Invoice #{rng.randint(1000, 99999)} from {company}, dated {date}. Total due: "
            f"{amount}. Payment terms: 30 days.",
            "the invoice number, date and total",
        )
    if kind == 1:
        return (
            f"Hi, this is {name} from {company} in {city}. You can reach me at "
            f"{name.split()[0].lower()}@example.com or +1 555 {rng.randint(100, 999)} "
            f"{rng.randint(1000, 9999)}.",
            "the name, company, email and phone number",
        )
    if kind == 2:
        return (
            f"{name} joined {company} as {_pick(rng, ['CTO', 'head of sales', 'an analyst'])}"
            f" in {date.split()[-1]}, after working in {city} for a decade.",
            "all people, organisations and locations",
        )
    if kind == 3:
        return (
            f"Order: {rng.randint(1, 5)}x desk lamp at {amount}, {rng.randint(1, 9)}x "
            f"notebook at $3.50, delivery to {city} on {date}.",
            "each item with quantity and price",
        )
    if kind == 4:
        return (
            f"ts={date} level=error svc=payments user={rng.randint(100, 999)} "
            f'msg="timeout after 30s" region={city.lower()}',
            "the key-value pairs",
        )
    if kind == 5:
        return (
            f"Patient {name}, 54, reports chest pain for 2 days. Taking aspirin 81 mg daily "
            f"and metoprolol 25 mg twice daily. Seen on {date}.",
            "the medications and dosages",
        )
    if kind == 6:
        return (
            f"{company} is hiring a Senior Analyst in {city}. Salary {amount}k. Hybrid, 3 "
            f"days in office. Apply by {date}.",
            "the job title, location, salary and deadline",
        )
    return (
        f"Flight BA{rng.randint(100, 999)} from {city} departs {date} at "
        f"{rng.randint(6, 22)}:{rng.choice(['05', '30', '45'])}, gate "
        f"{rng.choice('ABCD')}{rng.randint(1, 30)}. Passenger: {name}.",
        "the flight number, date, time, gate and passenger",
    )


def gen_extraction(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    verbs = [
        "Extract",
        "Pull out",
        "Get",
        "Find",
        "Identify",
        "List",
        "Grab",
        "Parse out",
        "Return",
    ]
    formats = [
        " as JSON",
        " as a JSON object",
        " in a table",
        " as CSV",
        " as a bulleted list",
        "",
        "",
        " as key: value lines",
        " into these fields",
    ]
    for _ in range(n):
        kind = rng.randrange(4)
        if kind <= 1:
            doc, fields = _doc(rng)
            text = _pick(
                rng,
                [
                    f"{_pick(rng, verbs)} {fields}{_pick(rng, formats)} from this text:\n\n{doc}",
                    f"{doc}\n\n{_pick(rng, verbs)} {fields}{_pick(rng, formats)}.",
                    f"From the following, {_pick(rng, verbs).lower()} {fields}"
                    f"{_pick(rng, formats)}: {doc}",
                ],
            )
        elif kind == 2:
            items = rng.sample(REVIEW_BITS + EMAIL_BITS, 3)
            listing = "\n".join(f"{i + 1}. {x}" for i, x in enumerate(items))
            label = _pick(
                rng,
                [
                    "Classify the sentiment of each line as positive, negative or neutral.",
                    "Tag each sentence with a topic label.",
                    "Label each item as a complaint or praise.",
                    "Which of these are questions? Answer with the numbers.",
                    "Categorise each sentence: logistics, product, or people.",
                    "For each line, output the sentiment and a confidence score as JSON.",
                ],
            )
            text = f"{label}\n{listing}"
        else:
            para = f"{_pick(rng, FIRST)} met {_pick(rng, FIRST)} from {_pick(rng, COMPANIES)} "
            para += f"in {_pick(rng, CITIES)} on {rng.randint(1, 28)} May to discuss a "
            para += f"{_pick(rng, ['$2M', '€500k', '$75,000'])} contract."
            text = _pick(
                rng,
                [
                    f"Find all the names, dates and amounts in: {para}",
                    f"Named entity recognition on this sentence: {para}",
                    f"Turn this into structured data (who, where, when, how much): {para}",
                    f'Is this message spam or not? Answer yes or no. "{para}"',
                    f"What is the intent of this message? {para}",
                ],
            )
        out.append(_casing(rng, text))
    return out


CONCEPTS = [
    "photosynthesis", "inflation", "the French Revolution", "black holes", "the immune system",
    "plate tectonics", "the Renaissance", "supply and demand", "DNA replication",
    "the greenhouse effect", "the Cold War", "compound interest", "the water cycle",
    "quantum mechanics", "the Roman Empire", "antibiotic resistance", "the stock market",
    "the European Union", "general relativity", "the printing press",
    "evolution by natural selection", "the Industrial Revolution", "vaccines",
    "the placebo effect", "blockchain", "nuclear fusion", "the Big Bang", "the Ottoman Empire",
    "cognitive behavioural therapy", "the separation of powers", "climate change",
    "the Great Depression", "the Silk Road", "machine learning", "the electoral system in Germany",
    "Buddhism", "existentialism", "the Magna Carta", "the Krebs cycle", "hurricanes",
    "the gut microbiome", "impressionism", "monetary policy", "the theory of plate boundaries",
    "the human heart", "5G networks", "the apartheid era", "the Mughal Empire", "stem cells",
    "dark matter", "jazz", "the Treaty of Versailles", "minimum wage laws", "copyright law",
    "diabetes",
]
PAIRS = [
    ("a virus", "a bacterium"), ("weather", "climate"), ("stocks", "bonds"),
    ("a crocodile", "an alligator"), ("socialism", "communism"), ("baking soda", "baking powder"),
    ("a comet", "an asteroid"), ("an LLC", "a corporation"), ("affect", "effect"),
    ("a psychologist", "a psychiatrist"), ("AC", "DC current"), ("the House", "the Senate"),
    ("Sunni", "Shia Islam"), ("HDD", "SSD storage"),
]
COUNTRIES = [
    "Kazakhstan", "Australia", "Canada", "Nigeria", "Peru", "Mongolia", "Vietnam", "Norway",
    "Morocco", "New Zealand", "Chile", "Kenya", "Portugal", "Bhutan",
]
FACT_QS = [
    "Who wrote {w}?", "Who invented the telephone?", "When did World War II end?",
    "Who was the first person on the Moon?", "What is the capital of {c}?",
    "What language is spoken in {c}?", "What is the population of {c}?",
    "What currency does {c} use?", "Where is Machu Picchu?", "Who discovered penicillin?",
    "How tall is Mount Everest?", "What is the speed of light?", "Who painted the Mona Lisa?",
    "What is the largest ocean?", "How many moons does Jupiter have?",
    "What's the chemical symbol for gold?", "When was the United Nations founded?",
    "Who was Cleopatra?", "What is the longest river in the world?",
    "Which country has the most islands?", "What year did the Berlin Wall go up?",
    "Who is the author of {w}?", "What is the main religion in {c}?",
]
KNOW_STARTERS = [
    "What is", "Explain", "Tell me about", "Can you explain", "How does", "What do you know about",
    "Give me an overview of", "What causes", "Why is", "ELI5:", "What's the history of",
    "Describe",
]


def gen_knowledge(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    for _ in range(n):
        kind = rng.randrange(5)
        if kind <= 1:
            concept = _pick(rng, CONCEPTS)
            start = _pick(rng, KNOW_STARTERS)
            text = f"{start} {concept}" + ("?" if start[-1] != ":" else "")
            if start == "How does":
                text = f"How does {concept} work?"
        elif kind == 2:
            a, b = _pick(rng, PAIRS)
            text = _pick(
                rng,
                [
                    f"What's the difference between {a} and {b}?",
                    f"{a} vs {b}: how are they different?",
                    f"Is {a} the same thing as {b}?",
                ],
            )
        elif kind == 3:
            text = _pick(rng, FACT_QS).format(w=_pick(rng, WORKS), c=_pick(rng, COUNTRIES))
        else:
            text = _pick(
                rng,
                [
                    "What are the symptoms of "
                    f"{_pick(rng, CONDITIONS)}?",
                    "Why do "
                    f"{_pick(rng, WHY_QUESTIONS)}?",
                    "How do "
                    f"{_pick(rng, HOW_QUESTIONS)}?",
                    "What happened during "
                    f"{_pick(rng, EVENTS)}?",
                    "Is it true that "
                    f"{_pick(rng, MYTHS)}?",
                    "What are the health benefits of "
                    f"{_pick(rng, HEALTH_HABITS)}?",
                    f"What rights do tenants have in {_pick(rng, COUNTRIES)}?",
                    f"List {rng.randint(3, 15)} "
                    f"{_pick(rng, LIST_TOPICS)}.",
                    "How did "
                    f"{_pick(rng, TRENDS)} "
                    f"change between {rng.randint(1950, 2000)} and {rng.randint(2001, 2023)}?",
                    f"What happened in {rng.randint(1800, 2010)} in {_pick(rng, COUNTRIES)}?",
                    "How good a hedge have "
                    f"{_pick(rng, ['bonds', 'gold', 'real estate', 'commodities'])} been against "
                    f"{_pick(rng, ['equities', 'inflation', 'recessions'])} since "
                    f"{rng.randint(1970, 2010)}?",
                    "What is the business model of "
                    f"{_pick(rng, BUSINESSES)}?",
                    "How can I "
                    f"{_pick(rng, HOW_CAN_I)}?",
                    "What are the consequences of the "
                    f"{_pick(rng, LAWS)} "
                    "for "
                    f"{_pick(rng, ['small businesses', 'developers', 'farmers', 'consumers'])}?",
                ],
            )
        out.append(_casing(rng, text))
    return out


CHAT_LINES = [
    "hi", "hello!", "hey there", "good morning", "good evening :)", "how are you?", "what's up?",
    "thanks!", "thank you so much", "you're the best", "lol", "haha nice", "ok", "okay thanks",
    "bye!", "see you later", "good night", "who are you?", "what can you do?", "are you a robot?",
    "do you have feelings?", "what's your name", "i'm bored", "i'm tired", "i'm so happy today",
    "ugh, long day", "tell me something fun", "let's chat", "can we talk?",
    "i need someone to talk to", "do you like movies?", "what's your favourite food?",
    "do you like cats or dogs?", "i just got a new puppy!", "i passed my exam!!",
    "i'm nervous about tomorrow", "that was funny", "you're funny", "nice to meet you",
    "sorry about that", "my bad", "i'm back", "miss me?", "hmm", "wow", "cool cool", "you there?",
    "talk to me", "how's your day going?", "what are you doing?", "are you real?", "do you sleep?",
    "i feel a bit down today", "it's my birthday today!", "i got the job!",
    "my friend is ignoring me, what do i do", "any weekend plans?", "what should i watch tonight",
    "i'm hungry, what should i eat", "it's so hot today", "i hate mondays", "happy new year!",
    "merry christmas!", "i'm going on holiday tomorrow", "guess what",
    "i'm learning to play guitar", "what music do you like?", "can you keep a secret?",
]
CHAT_FEELINGS = [
    "stressed", "lonely", "excited", "anxious", "bored", "sad", "proud", "overwhelmed", "grateful",
    "homesick", "nervous", "happy",
]
CHAT_REASONS = [
    "about work", "since I moved", "because of exams", "for no reason", "after the breakup",
    "about my trip", "about my new job", "today", "about the weekend", "since my dog got sick",
]


def gen_chat(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    for _ in range(n):
        kind = rng.randrange(4)
        if kind <= 1:
            text = _pick(rng, CHAT_LINES)
            if rng.random() < 0.3:
                text = _pick(rng, ["hey, ", "so ", "btw ", "lol ", "ok ", "hi! "]) + text
            if rng.random() < 0.2:
                text += _pick(rng, [" 😊", " 😂", " :)", " :(", "!!", " haha", " xD"])
        elif kind == 2:
            text = _pick(
                rng,
                [
                    f"I'm feeling {_pick(rng, CHAT_FEELINGS)} {_pick(rng, CHAT_REASONS)}",
                    f"feeling kinda {_pick(rng, CHAT_FEELINGS)} {_pick(rng, CHAT_REASONS)}",
                    f"just wanted to say I'm {_pick(rng, CHAT_FEELINGS)} lol",
                    f"I've been so {_pick(rng, CHAT_FEELINGS)} lately, can we talk?",
                ],
            )
        else:
            text = _pick(
                rng,
                [
                    "what do you think about "
                    f"{_pick(rng, OPINION_TOPICS)}?",
                    "any ideas for "
                    f"{_pick(rng, IDEA_OCCASIONS)}?",
                    "can you recommend "
                    f"{_pick(rng, RECOMMENDABLES)} "
                    "for "
                    f"{_pick(rng, RECOMMEND_FOR)}?",
                    f"do you {_pick(rng, ['like', 'ever get', 'prefer', 'believe in'])} "
                    f"{_pick(rng, ['bored', 'tea or coffee', 'luck', 'jokes', 'rainy days'])}?",
                    f"my {_pick(rng, ['cat', 'dog', 'kid', 'roommate', 'boss'])} just "
                    f"{_pick(rng, PET_NEWS)}",
                    "I just "
                    f"{_pick(rng, LIFE_NEWS)}!",
                ],
            )
        out.append(_casing(rng, text))
    return out


CSV_JOBS = [
    'plots it', 'trains a model on it', 'groups it by the first column', 'loads it into Postgres',
    'finds outliers', 'converts it to JSON',
]
GOAL_SUBJECTS = [
    'a new sales team', 'an IT incident response plan', 'my fitness journey', 'a school library',
]
LONG_DOCS = [
    'position paper', 'literature review', 'project proposal',
    'research scope and limitations section', 'grant application summary', 'white paper',
]
ARTICLE_KINDS = [
    'LinkedIn article', 'blog post', 'newsletter', 'landing page',
]
CONDITIONS = [
    'anemia', 'the flu', 'Lyme disease', 'burnout', 'dehydration', 'a concussion',
]
WHY_QUESTIONS = [
    'leaves change colour', 'we dream', 'cats knead', 'stars twinkle', 'onions make you cry',
    'planes leave contrails',
]
HOW_QUESTIONS = [
    'airplanes stay in the air', 'vaccines work', 'solar panels work', 'credit cards make money',
    'bees make honey', 'elections work in the UK',
]
EVENTS = [
    'the Cuban Missile Crisis', 'the fall of Rome', 'the Meiji era', 'the Black Death',
    'the Apollo 13 mission',
]
MYTHS = [
    'we only use 10% of our brains', 'goldfish have a 3-second memory',
    'lightning never strikes twice', 'the Great Wall is visible from space',
]
HEALTH_HABITS = [
    'green tea', 'intermittent fasting', 'walking', 'fish oil', 'sauna',
]
LIST_TOPICS = [
    'common cyber attacks on hospitals', 'causes of the 2008 financial crisis',
    'symptoms of burnout', 'famous Renaissance painters', 'risks of investing in crypto',
    'effects of deforestation', 'key provisions of the GDPR',
]
TRENDS = [
    'bond yields', 'life expectancy', 'the population of India', 'smartphone use',
    'average rent in London',
]
BUSINESSES = [
    'Palantir', 'Spotify', 'Costco', 'Visa', 'Airbnb', 'Netflix',
]
HOW_CAN_I = [
    'secure my home wifi', 'improve my credit score', 'protect my phone from scams',
    'lower my heating bill', 'prepare for an earthquake',
]
LAWS = [
    'EU AI Act', 'Paris Agreement', 'Brexit deal', 'US Inflation Reduction Act',
    'Cyber Resilience Act',
]
OPINION_TOPICS = [
    'rainy days', 'cats', 'summer', 'social media', 'Mondays', 'camping',
]
IDEA_OCCASIONS = [
    'a lazy Sunday', 'date night', 'a birthday gift for my mom', 'a rainy afternoon',
    'dinner tonight', 'something fun to do this weekend',
]
RECOMMENDABLES = [
    'a movie', 'a podcast', 'a book', 'a board game', 'a song', 'a series to binge',
]
RECOMMEND_FOR = [
    'tonight', 'my road trip', 'a cozy evening', 'my mom', 'a long flight',
]
PET_NEWS = [
    'did the funniest thing', 'made my day', 'drove me crazy', 'fell asleep on my laptop',
]
LIFE_NEWS = [
    'got engaged', 'moved to a new city', 'ran my first 10k', 'adopted a kitten',
    'finished my thesis',
]

GENERATORS = {
    "coding": gen_coding,
    "math": gen_math,
    "reasoning": gen_reasoning,
    "writing": gen_writing,
    "summarization": gen_summarization,
    "translation": gen_translation,
    "extraction": gen_extraction,
    "knowledge": gen_knowledge,
    "chat": gen_chat,
}

# fmt: on


def generate_examples(per_class: int, seed: int = SEED) -> list[tuple[str, str]]:
    """Template prompts: deduplicated, in a fixed order."""
    rows: list[tuple[str, str]] = []
    for task in classifier.TASKS:
        rng = random.Random(f"{seed}:{task}")
        seen: set[str] = set()
        for text in GENERATORS[task](rng, per_class):
            if text not in seen:
                seen.add(text)
                rows.append((text, task))
    return rows


# ------------------------------------------------------------------------- public data

# Alpaca seed task ids mapped to our classes; unlisted ids are ambiguous and left out.
ALPACA_LABELS = {
    "chat": [0, 9, 10, 11, 27, 30, 34, 80, 105, 116, 127],
    "reasoning": [1, 15, 73, 106, 130, 152, 155, 167, 168],
    "knowledge": [
        2,
        7,
        12,
        16,
        19,
        23,
        32,
        48,
        56,
        60,
        82,
        88,
        92,
        95,
        103,
        107,
        118,
        128,
        131,
        134,
        142,
        143,
        147,
        160,
        161,
        163,
        174,
    ],
    "writing": [
        4,
        6,
        8,
        14,
        18,
        20,
        29,
        33,
        42,
        43,
        47,
        49,
        51,
        55,
        57,
        59,
        63,
        66,
        74,
        75,
        76,
        79,
        84,
        86,
        87,
        89,
        93,
        96,
        97,
        98,
        100,
        112,
        114,
        119,
        123,
        124,
        126,
        129,
        145,
    ],
    "extraction": [
        13,
        26,
        39,
        67,
        78,
        85,
        135,
        148,
        151,
        154,
        156,
        157,
        159,
        162,
        165,
        166,
        169,
        170,
        171,
        172,
    ],
    "coding": [28, 31, 37, 41, 50, 61, 69, 72, 138, 139, 140, 141, 158],
    "math": [22, 25, 35, 45, 58, 83, 109, 110, 136, 144, 164],
    "summarization": [62, 64, 137],
    "translation": [101, 117],
}


def prepare_public(shared: Path) -> None:
    """Write the mapped public subsets (see data/routing/SOURCES.md) into data/routing/train."""
    labels = {i: task for task, ids in ALPACA_LABELS.items() for i in ids}
    alpaca = []
    for line in (shared / "alpaca_seed_tasks.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        task = labels.get(int(row["id"].rsplit("_", 1)[1]))
        if task:
            text = row["instruction"]
            instance = row["instances"][0]["input"]
            if instance:
                text += "\n\n" + instance
            alpaca.append({"prompt": text, "task": task, "source": f"alpaca-seed:{row['id']}"})
    rng = random.Random(SEED)
    gsm = [json.loads(x) for x in (shared / "gsm8k_train.jsonl").read_text().splitlines()]
    picked = sorted(rng.sample(range(len(gsm)), 300))
    gsm_rows = [
        {"prompt": gsm[i]["question"], "task": "math", "source": f"gsm8k-train:{i}"} for i in picked
    ]
    for name, rows in (("alpaca_seed_mapped.jsonl", alpaca), ("gsm8k_math.jsonl", gsm_rows)):
        with (TRAIN_DIR / name).open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        print(f"wrote {len(rows)} rows to {TRAIN_DIR / name}", file=sys.stderr)


def load_train_files() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for path in sorted(TRAIN_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row["task"] not in classifier.TASKS:
                    raise SystemExit(f"{path.name}: unknown task {row['task']!r}")
                rows.append((row["prompt"], row["task"]))
    return rows


# ---------------------------------------------------------------------------- training


def _matrix(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR pieces (row pointers, bucket indices, values) with the runtime's normalisation."""
    ptr: list[int] = [0]
    idx: list[int] = []
    val: list[float] = []
    for text in texts:
        buckets = classifier.featurize(text) or [0]
        counts = Counter(buckets)
        norm = 1.0 / np.sqrt(len(buckets))
        idx.extend(counts.keys())
        val.extend(c * norm for c in counts.values())
        ptr.append(len(idx))
    return np.array(ptr), np.array(idx, dtype=np.int64), np.array(val, dtype=np.float64)


def train(
    texts: list[str], labels: list[int], *, epochs: int, lr: float, decay: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by mini-batch AdamW over hashed sparse features."""
    n_classes, n_buckets = len(classifier.TASKS), 1 << classifier.BUCKET_BITS
    ptr, idx, val = _matrix(texts)
    y = np.array(labels)
    class_weight = len(y) / (n_classes * np.bincount(y, minlength=n_classes))
    w = np.zeros((n_buckets, n_classes))
    b = np.zeros(n_classes)
    m_w, v_w, m_b, v_b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    rng = np.random.default_rng(seed)
    step, batch = 0, 256
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        loss_sum = 0.0
        for start in range(0, len(y), batch):
            rows = order[start : start + batch]
            lengths = ptr[rows + 1] - ptr[rows]
            flat = np.concatenate([np.arange(ptr[r], ptr[r + 1]) for r in rows])
            row_of = np.repeat(np.arange(len(rows)), lengths)
            cols, vals = idx[flat], val[flat]
            logits = np.zeros((len(rows), n_classes)) + b
            np.add.at(logits, row_of, w[cols] * vals[:, None])
            logits -= logits.max(axis=1, keepdims=True)
            prob = np.exp(logits)
            prob /= prob.sum(axis=1, keepdims=True)
            sw = class_weight[y[rows]]
            loss_sum += float(-(np.log(prob[np.arange(len(rows)), y[rows]] + 1e-12) * sw).sum())
            grad_logits = prob
            grad_logits[np.arange(len(rows)), y[rows]] -= 1.0
            grad_logits *= (sw / sw.sum())[:, None]
            g_w = np.zeros_like(w)
            np.add.at(g_w, cols, grad_logits[row_of] * vals[:, None])
            g_b = grad_logits.sum(axis=0)
            step += 1
            for p, g, m, v in ((w, g_w, m_w, v_w), (b, g_b, m_b, v_b)):
                m *= 0.9
                m += 0.1 * g
                v *= 0.999
                v += 0.001 * g * g
                update = (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
                p -= lr * update
            w *= 1.0 - lr * decay
        print(f"epoch {epoch + 1}/{epochs}: loss {loss_sum / len(y):.4f}", file=sys.stderr)
    return w, b


def quantise(w: np.ndarray, b: np.ndarray) -> bytes:
    scale = np.maximum(np.abs(w).max(axis=0), 1e-9) / 127.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    rows = [q[:, c].tobytes() for c in range(q.shape[1])]
    return classifier.pack_weights(
        classifier.TASKS, [float(x) for x in b], [float(x) for x in scale], rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--prepare-public",
        type=Path,
        metavar="DIR",
        help="re-create the mapped public subsets from this directory first",
    )
    parser.add_argument("--per-class", type=int, default=700, help="template prompts per class")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--decay", type=float, default=0.2, help="decoupled weight decay")
    parser.add_argument("--out", type=Path, default=classifier.WEIGHTS_PATH)
    args = parser.parse_args(argv)
    np.seterr(all="raise", under="ignore")
    if args.prepare_public:
        prepare_public(args.prepare_public)
    rows = load_train_files() + generate_examples(args.per_class)
    counts = Counter(task for _, task in rows)
    print(
        "examples per class: " + ", ".join(f"{t}={counts[t]}" for t in classifier.TASKS),
        file=sys.stderr,
    )
    started = time.perf_counter()
    labels = [classifier.TASKS.index(task) for _, task in rows]
    w, b = train(
        [text for text, _ in rows],
        labels,
        epochs=args.epochs,
        lr=args.lr,
        decay=args.decay,
        seed=SEED,
    )
    blob = quantise(w, b)
    args.out.write_bytes(blob)
    print(
        f"wrote {args.out} ({len(blob):,} bytes) in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
