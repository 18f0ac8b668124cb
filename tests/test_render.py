"""The renderer: contract format, escaping, code outside spoilers, and limits for any input."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.models import Question
from bot.ui import markup, post_view, render, score_view
from tests.telegram_html import HtmlError, check_message_text, parse, utf16_len

SIG = "By: @pyinterviewq ✨"


def make(answer: str = "Plain answer.", **kw: object) -> Question:
    base: dict[str, object] = {
        "id": "q-1",
        "topic": "T",
        "question": "Why <b> & co?",
        "answer": answer,
        "choices": ("<b>", "a & b", "c"),
        "correct": 1,
        "explanation": "Because <i>.",
        "tags": ("Python", "C++", "Q&A", "Интервью"),
    }
    base.update(kw)
    return Question(**base)  # type: ignore[arg-type]


def test_post_format_and_escaping() -> None:
    post = post_view.render_post(make(), signature=SIG, bot_username="B", asking_id=7)
    lines = post.text.split("\n")
    assert lines[0] == "<b>❔ Interview Question</b>"
    assert lines[2] == "<b>Why &lt;b&gt; &amp; co?</b>"
    assert lines[4].startswith("Answer: <tg-spoiler>")
    assert lines[-3] == "tags: #Python #C #QA #Интервью"
    assert lines[-2] == "━━━━━━━━━━━━━━━"
    assert lines[-1] == SIG
    assert post.keyboard is not None
    labels = [b.text for row in post.keyboard.inline_keyboard for b in row]
    assert labels[:3] == ["<b>", "a & b", "c"]  # plain text on buttons, not escaped
    assert check_message_text(post.text, "HTML") == ""


def test_code_is_plain_inside_the_spoiler_and_formatted_in_full_answer() -> None:
    answer = "Use `len(x)`.\n\n```python\nif a < b:\n    print('x')\n```\n- one\n- two"
    post = post_view.render_post(make(answer), signature=SIG, bot_username="B", asking_id=1)
    spoiler = post.text.split("<tg-spoiler>")[1].split("</tg-spoiler>")[0]
    assert "<code>" not in spoiler and "<pre>" not in spoiler
    assert "if a &lt; b:\n    print('x')" in spoiler
    assert "• one\n• two" in spoiler
    full = "\n\n".join(render.answer_messages(make(answer)))
    assert "<code>len(x)</code>" in full
    assert "<pre><code class=\"language-python\">if a &lt; b:\n    print('x')</code></pre>" in full
    assert check_message_text(full, "HTML") == ""


def test_long_answer_is_cut_at_a_boundary_and_links_the_full_answer() -> None:
    answer = " ".join(f"Sentence number {i} explains a detail." for i in range(400))
    post = post_view.render_post(make(answer), signature=SIG, bot_username="B", asking_id=1)
    assert post.cut
    assert utf16_len(parse(post.text)) <= 4096
    spoiler = post.text.split("<tg-spoiler>")[1].split("</tg-spoiler>")[0]
    assert spoiler.endswith("detail.…")
    assert post.keyboard is not None
    urls = [b.url for row in post.keyboard.inline_keyboard for b in row if b.url]
    assert "https://t.me/B?start=a_q-1" in urls
    assert post.text.endswith(SIG)
    messages = render.answer_messages(make(answer))
    assert len(messages) >= 4 and all(check_message_text(m, "HTML") == "" for m in messages)


def test_long_choices_are_listed_with_letter_buttons() -> None:
    q = make(choices=("x" * 40, "short", "y" * 50), correct=2)
    post = post_view.render_post(q, signature=SIG, bot_username="B", asking_id=3)
    assert "A) " + "x" * 40 in post.text
    assert post.keyboard is not None
    assert [b.text for b in post.keyboard.inline_keyboard[0]] == ["A", "B", "C"]
    assert post_view.channel_alert(q, 0, True).startswith("❌ Not quite: it's C.")


def test_score_line_shape() -> None:
    assert score_view.score_line(42, 25, 19) == "42 points · 25 answered · 19 right · 76%"
    assert score_view.score_line(1, 1, 1) == "1 point · 1 answered · 1 right · 100%"
    assert score_view.score_line(0, 0, 0) == "0 points · 0 answered · 0 right · 0%"


def test_alert_is_cut_to_200() -> None:
    assert len(render.alert("x" * 500)) == 200


text_strategy = st.lists(
    st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from(
        [
            "<",
            ">",
            "&",
            "```",
            "```python\n",
            "`",
            "\n",
            "• ",
            "- ",
            "&amp;",
            "<b>",
            "</tg-spoiler>",
            "😀",
            "𝔘",
        ]
    ),
    min_size=1,
    max_size=120,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    question=text_strategy.filter(lambda s: s.strip()),
    answer=st.one_of(
        text_strategy, st.builds(lambda s, n: s * n, text_strategy, st.integers(1, 60))
    ),
    choice=text_strategy.filter(lambda s: s.strip()),
    tag=st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=20),
)
def test_any_text_renders_to_valid_telegram_html(
    question: str, answer: str, choice: str, tag: str
) -> None:
    if not answer.strip():
        answer = "x"
    q = make(answer, question=question[:300], choices=(choice[:100], "b"), tags=(tag,))
    post = post_view.render_post(
        q, signature=SIG, bot_username="B", asking_id=1, tally=post_view.Tally(3, 2)
    )
    assert check_message_text(post.text, "HTML") == ""
    assert post.text.endswith(f"━━━━━━━━━━━━━━━\n{SIG}")
    for message in render.answer_messages(q):
        assert check_message_text(message, "HTML") == ""
    assert len(post_view.channel_alert(q, 0, False)) <= 200


def test_ten_thousand_character_answer() -> None:
    answer = ("word " * 1990) + "\n```\n" + ("x = 1\n" * 300) + "```"
    assert len(answer) >= 10_000
    q = make(answer)
    post = post_view.render_post(q, signature=SIG, bot_username="B", asking_id=1)
    assert post.cut and check_message_text(post.text, "HTML") == ""
    for message in render.answer_messages(q):
        assert check_message_text(message, "HTML") == ""


def test_validator_rejects_what_telegram_rejects() -> None:
    bad = [
        "a < b",
        "a & b",
        "a > b",
        "<div>x</div>",
        "<b>x",
        "<b><i>x</b></i>",
        "<tg-spoiler><code>x</code></tg-spoiler>",
        "<code><b>x</b></code>",
        "<a>x</a>",
        '<span class="x">y</span>',
        "<blockquote><blockquote>x</blockquote></blockquote>",
    ]
    for text in bad:
        try:
            parse(text)
        except HtmlError:
            continue
        raise AssertionError(f"accepted {text!r}")
    assert check_message_text("<b> </b>", "HTML") == "Bad Request: message text is empty"
    assert check_message_text("x" * 4097, None) == "Bad Request: message is too long"
    assert parse('<pre><code class="language-python">a &lt; b</code></pre>') == "a < b"
    assert markup.visible_len("<b>a&amp;b</b>😀") == 5
