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


from sopengine.i18n import Message, concat, either, joined, translate


def N_(template: str) -> Message:
    """Mark *template* for the catalogue; it is translated where the message is shown."""
    return Message(template)


__all__ = ["Message", "N_", "concat", "either", "joined", "translate"]
