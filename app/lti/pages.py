"""The small HTML pages of the LTI flow: the launch page (the widget), the deep-linking
picker, and the auto-submitting form that returns a deep-linking response."""

from __future__ import annotations

from html import escape

from rubrics import Lesson

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:48rem}}</style>
</head><body>
"""


def launch_page(
    *, base: str, lesson: Lesson, question_id: str, prompt: str, token: str, graded: bool
) -> str:
    note = "<p>Your score is sent to your course's gradebook when you submit.</p>" if graded else ""
    return (
        _HEAD.format(title=escape(f"{lesson.title}: self-check"))
        + f"<main><h1>{escape(lesson.title)}</h1>{note}\n"
        f'<rubricate-question api="{escape(base)}" lesson="{escape(lesson.id)}" '
        f'question="{escape(question_id)}" prompt="{escape(prompt)}" '
        f'launch-token="{escape(token)}"></rubricate-question>\n'
        f'</main><script src="{escape(base)}/widget.js"></script></body></html>'
    )


def picker_page(*, base: str, lessons: dict[str, Lesson], token: str) -> str:
    options = []
    for lesson in lessons.values():
        group = [
            f'<option value="{escape(lesson.id)}/{escape(q.id)}">'
            f"{escape(q.id)}: {escape(q.prompt[:120])}</option>"
            for q in lesson.questions
        ]
        options.append(f'<optgroup label="{escape(lesson.title)}">{"".join(group)}</optgroup>')
    return (
        _HEAD.format(title="Choose a rubricate question")
        + "<main><h1>Add a rubricate self-check</h1>"
        f'<form method="post" action="{escape(base)}/lti/deep-link">'
        f'<input type="hidden" name="session" value="{escape(token)}">'
        '<label for="item">Lesson and question</label><br>'
        f'<select id="item" name="item" required>{"".join(options)}</select> '
        '<button type="submit">Add to course</button></form></main></body></html>'
    )


def autopost_page(*, action: str, fields: dict[str, str]) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    return (
        _HEAD.format(title="Returning to your course")
        + f'<form id="f" method="post" action="{escape(action)}">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        '<script>document.getElementById("f").submit()</script></body></html>'
    )
