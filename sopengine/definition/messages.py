"""The checks' messages: English where they are made, in the reader's language where shown.

A problem of a definition is read twice: ``validate --json`` gives its message as written,
in English, whatever the language; the line a person reads (``FILE:LINE: field: message``)
is in the language in force. So the checks do not translate when they find a problem: they
build a :class:`Message`, a ``str`` holding the English text (JSON, comparisons and tests
read it) that remembers its template and values, and :meth:`Message.text` translates the
template when the problem is printed.

``N_("...")`` marks a template for the catalogue (as :func:`sopengine.i18n.N_` does) and
gives a Message; ``.format(**values)`` fills it in, still English. A value may be a Message
itself (a hint, a reason), which is shown in the language too.
"""

from __future__ import annotations

from typing import Any

from sopengine.i18n import _


class Message(str):
    """English text that can be shown in the language in force.

    ``values`` is None for a template used as it is (its braces are then plain text).
    """

    template: str
    values: dict[str, Any] | None

    def __new__(cls, template: str, values: dict[str, Any] | None = None) -> Message:
        self = super().__new__(cls, template if values is None else template.format(**values))
        self.template = str(template)
        self.values = values
        return self

    def format(self, /, **values: Any) -> Message:  # type: ignore[override]
        """The template filled in with *values*; the result is English and remembers them."""
        if self.values is not None:
            raise TypeError("a message is filled in once")
        return Message(self.template, values)

    def text(self) -> str:
        """The message in the language in force."""
        return translate(self.template, self.values)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.template, self.values))


def translate(template: str, values: dict[str, Any] | None) -> str:
    """*template* in the language in force, filled in with *values* (Messages translated too)."""
    text = _(template)
    if values is None:
        return text
    return text.format(**{k: v.text() if isinstance(v, Message) else v for k, v in values.items()})


def N_(template: str) -> Message:
    """Mark *template* for the catalogue; it is translated where the message is shown."""
    return Message(template)


def concat(*parts: str) -> Message:
    """Parts shown one after the other (a message and its hint), each in the language in force.

    The template is structure, not words: it is not in the catalogue.
    """
    return joined(list(parts), "")


def joined(items: list[str], separator: str = ", ") -> Message:
    """*items* one after the other with *separator* between them, each in the language in force."""
    template = separator.replace("{", "{{").replace("}", "}}").join(f"{{p{i}}}" for i in range(len(items)))
    return Message(template, {f"p{i}": item for i, item in enumerate(items)})


def either(items: list[str]) -> str:
    """``'a', 'b' or 'c'``, with the language's word for 'or'."""
    if len(items) < 2:
        return items[0] if items else ""
    return N_("{first} or {last}").format(first=joined(items[:-1]), last=items[-1])
