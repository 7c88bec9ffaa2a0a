"""The embedded task classifier: rules, model, conversations, weights file, eval targets."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from modelyard.routing import classifier
from modelyard.routing.classifier import (
    TASKS,
    Classification,
    classify_messages,
    classify_text,
)
from modelyard.routing.evaluation import classification_report

ROOT = Path(__file__).resolve().parents[2]
EVAL_FILE = ROOT / "data" / "routing" / "eval" / "labelled.jsonl"
ARENA_FILE = ROOT / "data" / "routing" / "eval" / "arena_hard_labelled.jsonl"


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def test_task_classes_are_the_contracts_nine() -> None:
    assert TASKS == (
        "coding", "math", "reasoning", "writing", "summarization", "translation",
        "extraction", "knowledge", "chat",
    )  # fmt: skip


def test_code_fence_is_coding() -> None:
    result = classify_text("```python\nprint(items[0])\n```\nwhy does this fail?")
    assert result.task == "coding"
    assert "rule:code_fence" in result.signals


def test_stack_trace_is_coding() -> None:
    trace = 'Traceback (most recent call last):\n  File "a.py", line 3, in <module>\nKeyError: 1'
    result = classify_text(trace)
    assert result.task == "coding"
    assert "rule:stack_trace" in result.signals


def test_translate_into_a_natural_language_is_translation() -> None:
    result = classify_text("Translate into French: I love this city.")
    assert result.task == "translation"
    assert "rule:translate_to_language" in result.signals


def test_translate_into_a_programming_language_is_coding() -> None:
    result = classify_text("Translate this Python function into Rust: def f(x): return x * 2")
    assert result.task == "coding"
    assert "rule:code_conversion" in result.signals


def test_tldr_is_summarization() -> None:
    text = "TL;DR: The council met on Tuesday and approved the budget after a long debate."
    assert classify_text(text).task == "summarization"


def test_extract_as_json_is_extraction() -> None:
    result = classify_text("Extract the names and dates as JSON: Ana met Bo on 3 May.")
    assert result.task == "extraction"
    assert "rule:extract" in result.signals


def test_equation_is_math() -> None:
    assert classify_text("Solve 2x^2 + 3x - 5 = 0").task == "math"


def test_a_word_problem_with_spelled_out_numbers_is_math() -> None:
    text = (
        "Xavier is twice as old as Yasmin. Xavier will be 30 in six years. "
        "What is the total of their ages now?"
    )
    result = classify_text(text)
    assert result.task == "math"
    assert "rule:word_problem" in result.signals


def test_more_question_forms_ask_for_a_quantity() -> None:
    problem = "Mabel lives 4500 steps east of school and Helen 3/4 as far west. "
    assert "rule:word_problem" in classify_text(problem + "What's the total number?").signals
    assert "rule:word_problem" in classify_text(problem + "How high is that?").signals
    versions = classify_text("What is the difference between Python 2 and 3?")
    assert "rule:word_problem" not in versions.signals


def test_a_multiple_choice_questions_options_are_not_its_request() -> None:
    # MMLU's test questions as users paste them: figures in the options made a word problem,
    # and long options a passage to answer from (extraction), where the question is knowledge
    figures = (
        "As of 2019, unsafe water is responsible for about how many deaths each year?\n"
        "A. 1.2 million\nB. 2.4 million\nC. 3.6 million\nD. 4.8 million\nAnswer:"
    )
    assert "rule:word_problem" not in classify_text(figures).signals
    long_options = (
        "What are the criteria for statehood under the 1933 Montevideo Convention?\n"
        "A) It requires that the entity in question is not an aggressor and that it is "
        "peaceful\nB) It requires recognition by the majority of other nations\nC) It "
        "requires a permanent population, a defined territory, a government and a capacity "
        "to enter into foreign relations\nD) It requires stable and indissoluble borders as "
        "well as recognition"
    )
    assert "rule:question_on_text" not in classify_text(long_options).signals
    # the quantities of a word problem are in its statement, listed options or not (AQuA)
    stated = (
        "A train covers 120 km in 2 hours and then 180 km in 3 hours. What is its average "
        "speed?\nA) 50 km/h\nB) 60 km/h\nC) 70 km/h\nD) 80 km/h"
    )
    assert "rule:word_problem" in classify_text(stated).signals
    # lettered lines that do not end the message are not its options
    plan = "Which is best for my savings?\na) buy a house\nb) rent and invest\nWhy?"
    assert classifier._without_choices(plan) == plan


def test_a_program_that_calculates_is_coding_not_a_word_problem() -> None:
    # Code Alpaca held out: "Create a Python function to calculate ..." with its inputs read
    # as a word problem (47 of 4,000 went to maths)
    ask = "Create a Python function to calculate the area of a triangle.  base = 10, height = 5"
    result = classify_text(ask)
    assert result.task == "coding"
    assert "rule:word_problem" not in result.signals
    snake = "A python is 1.4 meters long and eats 3 alligators a week. How many in 5 weeks?"
    assert classify_text(snake).task == "math"  # without the rule, the model still reads it


def test_inline_code_marks_a_request_about_code() -> None:
    # CoNaLa held out: "generate the combinations of 3 from a set `{1, 2, 3, 4}`" read as maths
    result = classify_text("generate the combinations of 3 from a set `{1, 2, 3, 4}`")
    assert result.task == "coding"
    assert "rule:inline_code" in result.signals
    assert "rule:inline_code" not in classify_text("Fix this:\n```\nx = 1\n```").signals
    assert "rule:inline_code" not in classify_text("What does 'carpe diem' mean?").signals


def test_the_names_a_given_text_mentions_are_an_extraction() -> None:
    # WNUT17 held out: "Which people, places or brands does this message mention?" read as
    # a question to answer from knowledge
    for ask in (
        "Which people, places or brands does this message mention? off to NYC with @ann",
        "Find the locations and organisations mentioned here: Kanye West at Fashion Week",
    ):
        assert "rule:extract" in classify_text(ask).signals
    fact = classify_text("Who is mentioned in the Bible as the first king of Israel?")
    assert fact.task == "knowledge" and "rule:extract" not in fact.signals


def test_what_am_i_at_the_end_of_a_riddle_is_reasoning() -> None:
    riddle = "I have hands that wave at you, though I never say goodbye. What am I?"
    assert "rule:puzzle" in classify_text(riddle).signals


@pytest.mark.parametrize(
    "riddle",
    [
        "What has keys but can't open locks?",
        "The more you take, the more you leave behind. What are they?",
        "A man and his son are in an accident and the surgeon says he is my son. How can this be?",
        # RiddleSense's: "who is it?" and "who am I?" close a riddle as "what am I?" does
        "guys that laugh and dont make you frown make you smile and never let you far who is it?",
        "I am always before you but you can never see me. Who am I?",
    ],
)
def test_riddle_forms_are_puzzles(riddle: str) -> None:
    assert "rule:puzzle" in classify_text(riddle).signals


def test_a_geometry_problem_with_an_asymptote_figure_is_math_not_code() -> None:
    problem = (
        "In triangle $ABC$, $AB = 5$, $BC = 4$ and $CA = 3$.\n\n[asy]\ndefaultpen(1);\n"
        'pair C=(0,0), A = (0,3), B = (4,0);\ndraw(A--B--C--cycle);\nlabel("$A$",A,N);\n'
        "[/asy]\n\nPoint $P$ is chosen inside the triangle. What is the probability that $P$ "
        "is closer to $C$ than to $A$?"
    )
    result = classify_text(problem)
    assert result.task == "math"
    assert "rule:math_figure" in result.signals
    assert "rule:code_syntax" not in result.signals


def test_labelling_a_given_text_is_extraction() -> None:
    review = "The plot drags but the acting is superb. Is this review positive or negative?"
    result = classify_text(review)
    assert result.task == "extraction"
    assert "rule:label_text" in result.signals
    rating = "Review: Cold fries, rude staff, forty minutes late.\nWhat star rating fits it?"
    assert "rule:label_text" in classify_text(rating).signals
    assert "rule:label_text" not in classify_text("Rate my chances of getting in.").signals


@pytest.mark.parametrize(
    "ask",
    [  # promptsource's label requests that held-out T0 read as reasoning or knowledge
        "Is this a piece of news regarding world politics, sports, business, or science?",
        "Given a list of categories: company, artist, album, what category does it belong to?",
        "On a scale of 1 to 5, I would give this product",
        "Would you say he was satisfied or dissatisfied?",
        "How does the viewer feel about the movie?",
    ],
)
def test_a_label_or_a_rating_asked_of_a_text_is_extraction(ask: str) -> None:
    text = "Review: Cold fries, rude staff and a forty-minute wait for a table.\n" + ask
    assert "rule:label_text" in classify_text(text).signals


@pytest.mark.parametrize(
    "ask",
    [  # promptsource's summary requests with no word of the summarize rule's before
        "In a nutshell,",
        "So I recapped it in layman's terms:",
        "Now, can you write me an extremely short abstract for it?",
        "This boils down to the simple idea that",
        "I'm trying to distill these articles down into one.",
        "Synthesize these documents into a single one.",
    ],
)
def test_condensing_a_given_text_in_other_words_is_summarization(ask: str) -> None:
    article = " ".join(["The council approved the budget after a long debate on Tuesday."] * 12)
    signals = classify_text(article + "\n\n" + ask).signals
    assert "rule:summarize" in signals or "rule:summarize_after_text" in signals


def test_a_question_then_the_passage_it_is_about_is_extraction() -> None:
    passage = " ".join(["The bridge opened in 1937 and spans the strait at the bay's mouth."] * 6)
    result = classify_text("When did the bridge open?\n" + passage)
    assert result.task == "extraction"
    assert "rule:question_on_text" in result.signals


def test_a_question_that_points_at_the_text_it_comes_with_is_extraction() -> None:
    passage = " ".join(["Finland joined the Partnership for Peace programme in 1994."] * 8)
    text = "Given this paragraph about Finland, when did it start relations with NATO?\n\n"
    result = classify_text(text + passage)
    assert result.task == "extraction"
    assert "rule:about_given_text" in result.signals
    # with no text to point at, "evidence from the text" is about a known work
    known = "What does the green light mean in The Great Gatsby? Give evidence from the text."
    assert "rule:about_given_text" not in classify_text(known).signals


def test_a_question_worded_without_a_question_mark_before_its_passage_is_about_it() -> None:
    passage = " ".join(["Reno is a city in the northwest of the U.S. state of Nevada."] * 6)
    assert "rule:question_on_text" in classify_text("Tell me about Reno\n\n" + passage).signals
    poem = "Write a poem about Reno\n\n" + passage
    assert "rule:question_on_text" not in classify_text(poem).signals


def test_writing_from_a_summary_is_not_summarization() -> None:
    text = (
        "Write an expanded news article with plausible details from the following summary: "
        "a pizzeria robbery failed when the owner locked the door."
    )
    result = classify_text(text)
    assert result.task == "writing"
    assert "rule:summarize" not in result.signals


def test_a_request_to_write_at_the_end_of_a_premise_is_writing() -> None:
    premise = " ".join(["Every night a pale blue light shines in the empty attic upstairs."] * 10)
    assert "rule:compose" in classify_text(premise + " Write a story about it.").signals


@pytest.mark.parametrize(
    "stem",
    [
        "The reasoning in the argument is flawed because the argument",
        "Which one of the following would it be most useful to know in order to evaluate it?",
        "Which one of the following, if true, most helps to resolve the apparent discrepancy?",
        "Which one of the following principles, if valid, most helps to justify the reasoning?",
        "The pattern of reasoning in which one of the following is most similar to that above?",
        "According to the above definition, which of the following is a public good?",
    ],
)
def test_logical_reasoning_question_stems_are_reasoning(stem: str) -> None:
    passage = "A city cut its bus fares last year, yet ridership fell by a tenth. "
    assert "rule:argument" in classify_text(passage + stem).signals


@pytest.mark.parametrize(
    "prompt",
    [  # LogicBench's and AR-LSAT's training prompts (their folds' errors; the last condensed)
        "If someone is exhausted , then they will sleep for hours . If mike is exhausted , "
        "does this imply that he will sleep for hours?",
        "If someone visits the park, then they have to wear a mask. If he doesn't have to "
        "wear a mask, does this imply that john doesn't visit the park?",
        "Six representatives sit in chairs 1 through 6. The following conditions apply: "
        "Poirier sits immediately next to Neri. Which one of the following seating "
        "arrangements would NOT violate the stated conditions?",
    ],
)
def test_entailment_over_stated_premises_is_reasoning(prompt: str) -> None:
    result = classify_text(prompt)
    assert result.task == "reasoning"
    assert "rule:argument" in result.signals


def test_entailment_stems_leave_personal_questions_alone() -> None:
    for text in (
        "My landlord kept my deposit. Does this mean that I can sue him?",
        "What does it mean that we are approaching the fiscal cliff?",
        "What rules apply to carry-on luggage?",
        "Is it true that goldfish have a three-second memory?",
    ):
        assert "rule:argument" not in classify_text(text).signals, text


def test_naming_a_framework_or_language_leans_to_coding() -> None:
    result = classify_text("Using Vue3 and tailwindcss, I want a top menu with nested submenus.")
    assert result.task == "coding"
    assert "rule:code_term" in result.signals


def test_editing_a_named_piece_of_prose_is_writing() -> None:
    text = "Edit the following paragraph to correct any grammatical errors: She dont like it."
    assert "rule:rewrite" in classify_text(text).signals


def test_a_program_that_handles_prose_is_not_a_request_to_compose() -> None:
    signals = classify_text("Write a function that reverses each word in a sentence.").signals
    assert "rule:compose" not in signals
    story = classify_text("Write a story about a programmer who writes a function.")
    assert "rule:compose" in story.signals
    opinion = classify_text("Write an opinion piece on remote work. Argue both sides.")
    assert "rule:compose" in opinion.signals


@pytest.mark.parametrize(
    "text",
    [  # CommonGen's, WikiBio's and DuoRC's requests as promptsource words them
        "Given the list of concepts: hay, eat, horse; \nGenerate a sentence with all the concepts",
        "Construct a sentence with the word building. Hint: use cloud, building, sky.",
        "From the concepts mentioned below, generate a sentence:\nconstruction, building, crane",
        "Facts:\n- name: juan carlos alvarez\n- position: midfielder\n\n"
        "Based on these bullet points, write a short biography describing his life\n.",
        "Build a movie plot around this: Who has colonized Mars? A high-tech company.",
    ],
)
def test_a_piece_to_compose_from_given_material_is_writing(text: str) -> None:
    assert "rule:compose" in classify_text(text).signals


def test_a_title_or_a_summary_asked_of_a_text_is_not_a_piece_to_compose() -> None:
    article = " ".join(["Shares in Asia closed lower on Monday after a weak lead."] * 8)
    for request in (
        "\n\nGenerate a title for this article:",
        "\n\nWrite one sentence to summarize:",
    ):
        assert "rule:compose" not in classify_text(article + request).signals
    assert (
        "rule:compose" not in classify_text("Generate a Python script that writes poems.").signals
    )


def test_a_factual_question_as_typed_into_a_search_box_is_knowledge() -> None:
    # Natural Questions' queries held out read as chat: lowercase, no question mark
    for query in (
        "who negotiated an agreement with japan concerning the future of korea",
        "when was the last time the eagles went to the super bowl",
    ):
        assert "rule:factual_question" in classify_text(query).signals
    for not_factual in (
        "where do you live",  # asked of the other speaker: chat
        "which is bigger, 2^10 or 10^3?",  # another rule's
        "who is it? I have keys but open no locks",
    ):
        assert "rule:factual_question" not in classify_text(not_factual).signals


def test_a_supposed_change_and_its_effect_is_reasoning() -> None:
    # WIQA's and QuaRTz's questions, held out, read as facts to recall
    for what_if in (
        "Process: water evaporates, then condenses.\nQuestion: suppose more heat happens, how "
        "will it affect more clouds forming?",
        "The smaller a population is, the more allele frequencies drift. Will a larger "
        "population drift more or less?",
        "If I double the voltage, will the current increase or decrease?",
        "In a series circuit, the resistance increases as more resistors are added in series."
        "\n\nDerek subtracts several resistors from his project within his series circuit, "
        "so therefore, within the series circuit, the resistance will have increased or "
        "decreased?",
        "If greenhouse gases in the atmosphere were to be doubled, Earth will become cooler "
        "or warmer?",
    ):
        assert "rule:what_if" in classify_text(what_if).signals
    for not_what_if in ("The report is more or less done.", "Suppose you are a pirate."):
        assert "rule:what_if" not in classify_text(not_what_if).signals


def test_a_question_about_what_could_or_would_be_is_an_inference() -> None:
    # StrategyQA's implicit questions held out read as facts to recall
    for question in (
        "Would a vegetarian eat a Whopper?",
        "Could a llama birth twice during the war?",
    ):
        assert "rule:hypothetical" in classify_text(question).signals
    for not_hypothetical in ("Would you like some tea?", "Can dogs eat grapes?"):
        assert "rule:hypothetical" not in classify_text(not_hypothetical).signals


@pytest.mark.parametrize(
    "text",
    [  # GPTeacher's role-play openings that read as questions to answer when held out
        "Take the role of a zoologist explaining the platypus to an audience.",
        "Role play as Charles Darwin witnessing an unusual animal on the Galapagos Islands.",
        "You are roleplaying Greta Thunberg in 2050, looking back at your activism.",
    ],
)
def test_role_play_openings_are_role_play(text: str) -> None:
    assert "rule:role_play" in classify_text(text).signals


def test_a_persona_in_the_request_is_role_play_but_not_in_the_system_prompt() -> None:
    persona = "You are a world-renowned meteorologist. Explain how a tornado forms."
    assert "rule:role_play" in classify_text(persona).signals
    longer = "You are an archaeologist who specializes in ancient civilizations. Describe Ur."
    assert "rule:role_play" in classify_text(longer).signals
    assert "rule:role_play" not in classify_text("You are a helpful assistant. Hi!").signals
    conversation = [
        {"role": "system", "content": "You are a patient tutor. Keep answers short."},
        _user("Write a haiku about rain."),
    ]
    result = classify_messages(conversation)
    assert result.task == "writing"  # so a role-play hit from the system prompt would show
    assert "context:rule:role_play" not in result.signals
    conversation[0]["role"] = "user"
    assert "context:rule:role_play" in classify_messages(conversation).signals


def test_a_story_premise_is_writing_but_a_given_story_is_not() -> None:
    for text in (
        "[WP] Every lie you tell becomes true for exactly one hour.",
        "Writing prompt: the last lighthouse keeper on Earth receives a letter.",
        "Give me the opening line of a novel set on a generation ship.",
    ):
        assert "rule:story_premise" in classify_text(text).signals, text
    given = "Here's a short story: Ann runs faster than Bob. Who reaches the gate first?"
    assert "rule:story_premise" not in classify_text(given).signals


def test_a_decision_between_courses_of_action_is_reasoning() -> None:
    for text in (
        "Should I accept the job offer in Berlin, or stay where I am and ask for a raise?",
        "Is it better to pay off my student loan early or invest the money?",
        "What are the pros and cons of moving to a four-day week for a small team?",
        "You are a nurse on a night shift and notice that a colleague has been taking home "
        "painkillers from the ward. She is a single mother and says it was a mistake. "
        "Should you report her to the hospital?",
    ):
        result = classify_text(text)
        assert "rule:decision" in result.signals, text
        assert "rule:role_play" not in result.signals  # the situation is the reader's, not a role
    assert "rule:decision" not in classify_text("Should I use React or Vue for this app?").signals
    assert "rule:decision" not in classify_text("Should I bring an umbrella today?").signals


def test_the_new_rules_leave_everyday_phrasings_alone() -> None:
    assert "rule:rewrite" not in classify_text("Rewrite this SQL query so it uses a join.").signals
    assert "rule:argument" not in classify_text("There must be a better way to say this.").signals
    assert "rule:label_text" not in classify_text("Which class should I use in Java?").signals
    assert "rule:argument" not in classify_text("It is most useful to know how to cook.").signals
    assert "rule:code_term" not in classify_text("How did she react to the panda?").signals
    assert "rule:rewrite" not in classify_text("How can I improve my sleep?").signals


def test_greeting_is_chat() -> None:
    result = classify_text("hi!")
    assert result.task == "chat"
    assert result.confidence > 0.9


def test_result_is_a_frozen_classification_with_a_probability() -> None:
    result = classify_text("What causes the northern lights?")
    assert isinstance(result, Classification)
    assert result.task in TASKS
    assert 0.0 < result.confidence <= 1.0
    assert "model" in result.signals
    with pytest.raises(AttributeError):
        result.task = "chat"  # type: ignore[misc]


def test_earlier_turns_decide_a_vague_follow_up() -> None:
    follow_up = "and 'the museum is closed today'?"
    alone = classify_text(follow_up)
    conversation = [
        {"role": "system", "content": "You translate between English and German."},
        _user("Translate to German: where is the station?"),
        {"role": "assistant", "content": "Wo ist der Bahnhof?"},
        _user(follow_up),
    ]
    in_context = classify_messages(conversation)
    assert alone.task != "translation"
    assert in_context.task == "translation"
    assert "context" in in_context.signals


def test_code_in_an_earlier_turn_keeps_a_follow_up_on_coding() -> None:
    conversation = [
        _user("Write a Python function that parses ISO dates"),
        {"role": "assistant", "content": "```python\ndef parse(s):\n    return s\n```"},
        _user("now make it handle timezones too"),
    ]
    assert classify_messages(conversation).task == "coding"


def test_the_last_user_turn_outweighs_the_context() -> None:
    conversation = [
        _user("Write a Python function that parses ISO dates"),
        {"role": "assistant", "content": "```python\ndef parse(s):\n    return s\n```"},
        _user("Thanks! Unrelated: translate 'good night' into Spanish."),
    ]
    assert classify_messages(conversation).task == "translation"


def test_json_output_hints_extraction_without_overriding_code() -> None:
    vague = [_user("Tell me about the products in this order: 2 lamps, 1 desk")]
    hinted = classify_messages(vague, json_output=True)
    assert hinted.task == "extraction"
    assert "request:json_output" in hinted.signals
    code = [_user("```js\nconst x = items.map(f);\n```\nwhat does this do?")]
    assert classify_messages(code, json_output=True, has_tools=True).task == "coding"


def test_tools_do_not_override_a_translation_request() -> None:
    messages = [_user("Translate into French: good night")]
    assert classify_messages(messages, has_tools=True).task == "translation"


def test_image_parts_are_ignored_and_text_parts_read() -> None:
    message = {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "Translate into Spanish: thank you very much"},
        ],
    }
    assert classify_messages([message]).task == "translation"


def test_no_text_gives_a_low_confidence_answer_marked_empty() -> None:
    result = classify_messages([{"role": "user", "content": ""}])
    assert result.task in TASKS
    assert result.signals == ("empty",)
    assert classify_messages([]) == result


def test_very_long_input_is_truncated_and_fast() -> None:
    text = "Please review this log. " + "error at line 7 in module x\n" * 20_000
    started = time.perf_counter()
    classify_text(text)
    assert time.perf_counter() - started < 0.05


def test_weights_file_is_small_and_matches_the_feature_version() -> None:
    size = classifier.WEIGHTS_PATH.stat().st_size
    assert size < 2_000_000
    model = classifier._unpack(classifier.WEIGHTS_PATH.read_bytes())
    assert model.classes == TASKS
    assert all(len(row) == 1 << classifier.BUCKET_BITS for row in model.weights)


def test_weights_of_another_feature_version_are_refused() -> None:
    blob = bytearray(classifier.WEIGHTS_PATH.read_bytes())
    blob[6] ^= 0xFF  # the feature-version field of the header
    with pytest.raises(ValueError, match="retrain"):
        classifier._unpack(bytes(blob))


def test_a_file_that_is_not_whole_weights_is_refused_as_such() -> None:
    blob = classifier.WEIGHTS_PATH.read_bytes()
    for broken in (b"garbage", blob[: len(blob) // 2], blob[:-8]):
        with pytest.raises(ValueError, match="not a classifier weights file"):
            classifier._unpack(broken)


def test_cached_word_scores_equal_scoring_every_feature() -> None:
    model = classifier._get_model()
    text = "Write a Rust function that merges two sorted vectors, then explain it."
    buckets = classifier.featurize(text)
    shapes = classifier.shape_buckets(text)
    norm = len(buckets) ** -classifier.NORM_POWER
    expected = [
        b
        + s * norm * sum(w[i] for i in buckets)
        + s * classifier.SHAPE_WEIGHT * sum(w[i] for i in shapes)
        for w, s, b in zip(model.weights, model.scale, model.bias, strict=True)
    ]
    assert model.logits(text) == pytest.approx(expected)


def _report(path: Path) -> dict:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return classification_report((r["task"], classify_text(r["prompt"]).task) for r in rows)


def test_eval_set_has_forty_hand_written_prompts_per_class() -> None:
    rows = [json.loads(line) for line in EVAL_FILE.read_text(encoding="utf-8").splitlines()]
    counts = {task: sum(r["task"] == task for r in rows) for task in TASKS}
    assert min(counts.values()) >= 40
    assert {r["source"] for r in rows} == {"modelyard-handwritten-eval-v1"}


def test_eval_set_meets_the_targets() -> None:
    report = _report(EVAL_FILE)
    recall = {task: row["recall"] for task, row in report["per_class"].items()}
    # A regression check on the project's own hand-written prompts, not evidence of
    # generalisation (that is leave-one-source-out and the public benchmarks). Shipped
    # weights: macro-F1 0.954, coding 0.936, math 1.000; guard a little below that.
    assert report["macro_f1"] >= 0.93
    assert recall["coding"] >= 0.9
    assert recall["math"] >= 0.95
    # reasoning is the weakest (0.83): trained on real puzzles and logic tests, the model
    # reads this file's hand-made trade-off questions as knowledge or chat more often
    assert min(recall.values()) >= 0.75


def test_arena_hard_prompts_labelled_blind_are_mostly_right() -> None:
    report = _report(ARENA_FILE)
    # Real user prompts (mostly coding), never trained on: accuracy 0.84, coding recall 0.90.
    assert report["accuracy"] >= 0.75
    assert report["per_class"]["coding"]["recall"] >= 0.8


def test_shape_features_read_how_a_message_is_built_not_its_words() -> None:
    shape = classifier.shape_buckets
    assert shape("Is it raining?") == shape("Do cats purr?")  # same length, lines, ending
    assert shape("Is it raining?") != shape("It is raining.")
    passage = "The committee met on Tuesday. " * 30
    assert shape(passage + "\nWhat did it decide?") != shape("What did it decide?")
    assert shape("Add 12 and 30, then 7.") != shape("Add these, then those.")


def test_a_titled_question_is_told_apart_by_whose_words_follow_it() -> None:
    shape = classifier.shape_buckets
    question = "Why do ice cubes crack in a drink?\n\n"
    asker = question + "I noticed mine always do, and I wonder why. " * 8
    passage = question + "Ice expands as it warms unevenly here. " * 8
    untitled = "Ice cubes crack in a drink.\n\n" + "Ice expands as it warms unevenly here. " * 8
    assert shape(asker) != shape(passage) != shape(untitled)
    # the question-on-a-passage rule (extraction) is for a passage, not the asker's own story
    assert "rule:question_on_text" in classify_text(passage).signals
    assert "rule:question_on_text" not in classify_text(asker).signals


def test_a_question_typed_on_one_line_before_its_context_opens_the_message_too() -> None:
    def opens_with_question(text: str) -> bool:
        buckets = classifier.shape_buckets(text)
        return any(classifier._bucket(f"#title{n}") in buckets for n in range(3))

    context = "I noticed mine always do, and I wonder why. " * 4
    assert opens_with_question("Why do ice cubes crack in a drink?\n" + context)
    assert opens_with_question("ELI5: Why do ice cubes crack in a drink? " + context)
    assert not opens_with_question("Ice cubes crack in a drink, they say. " + context)
    assert not opens_with_question("Ice cubes crack. " * 14 + "Why? " + context)  # not opening
    # a first line that goes on past its question, then more lines, is another shape
    assert not opens_with_question("Why do ice cubes crack? " + context + "\nThanks!")


def test_what_am_i_doing_wrong_is_a_request_for_help_not_a_riddle() -> None:
    # r/learnpython's posts held out: "What am I doing wrong?" fired the riddle rule
    assert "rule:puzzle" in classify_text("I have keys but no locks. What am I?").signals
    for ask in ("doing wrong", "missing", "supposed to do"):
        text = f"My JSON lookup returns undefined. What am I {ask}?"
        assert "rule:puzzle" not in classify_text(text).signals


def test_finding_files_is_a_shell_task_not_an_extraction() -> None:
    # NL2Bash held out: "find all files ..." fired the extraction rule's "find all"
    assert classify_text("Find all files under /var/log modified in the last hour").task == "coding"
    assert classify_text("find all directories in the current folder").task == "coding"
    assert classify_text("Linux command to count the lines of every .py file").task == "coding"
    assert classify_text("Find all the people named in this text: Bob met Alice.").task == (
        "extraction"
    )
