"""The wizard's prompts: questionary questions whose default is shown, not pre-typed.

A text question starts empty with its default drawn in grey (prompt_toolkit's placeholder): typing replaces
it, Enter on the empty line takes it, and the line left on the screen shows what was taken. Every answer is
checked when Enter is pressed (the reason is shown under the question, which stays open). Esc goes back
(:class:`Back`), Ctrl-C or Ctrl-D leaves (:class:`Cancelled`).
"""

from __future__ import annotations

from typing import Any, Callable

from models import PlannerError
from wizard_answers import NONE_WORDS

NO_DEFAULT = object()
"""A text question with nothing to take on Enter."""
_NONE = "\0none"
"""Stands for ``None`` as a select value (questionary reads ``None`` as "the title")."""
STYLE = [("placeholder", "fg:#8a8a8a italic"), ("answer", "fg:#5fafff bold"), ("instruction", "fg:#8a8a8a")]


class Cancelled(Exception):
    """The user left the wizard (Ctrl-C or Ctrl-D)."""


class Back(Exception):
    """The user pressed Esc: go back (to the question before, or to the review screen)."""


class _Escape(Exception):
    pass


def validator(accept: Callable[[str], Any]) -> Callable[[str], bool | str]:
    """A questionary ``validate=``: ``True`` when ``accept`` takes the text, else the reason it gives."""

    def validate(typed: str) -> bool | str:
        try:
            accept(typed)
        except PlannerError as exc:
            return str(exc)
        return True

    return validate


def placeholder(text: str):
    """Grey while asking; once answered it reads as the answer (what Enter took)."""
    from prompt_toolkit.application import get_app
    from prompt_toolkit.formatted_text import FormattedText

    def shown():
        return FormattedText([("class:answer" if get_app().is_done else "class:placeholder", text)])

    return shown


def default_text(value: Any, suffixes: bool = False) -> str:
    """A default as it could be typed: ``10``, ``0.7``, ``1_000_000`` (``1B`` where suffixes are accepted)."""
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if suffixes:
            for suffix, scale in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
                if value >= scale and (value * 100 if scale > 1000 else value) % scale == 0:  # 1.5B, 2.25M, 4k
                    return f"{value / scale:g}{suffix}"
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _refuse_on_enter(app, check: Callable[[str], bool | str]) -> None:
    """Enter submits an accepted answer; a refused one is cleared (the default shows again, so typing again
    replaces, never appends) with the reason and the refused text below the question; Up brings it back."""
    from prompt_toolkit.buffer import ValidationState
    from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings
    from prompt_toolkit.validation import ValidationError

    keys = KeyBindings()

    @keys.add("enter", eager=True)
    def _submit(event) -> None:
        buffer = event.current_buffer
        reason = check(buffer.text)
        if reason is True:
            buffer.validation_state = ValidationState.UNKNOWN  # an earlier refusal of this (empty) line is over
            buffer.validate_and_handle()
            return
        buffer.reset(append_to_history=True)
        buffer.validation_state = ValidationState.INVALID  # so no later check of the empty line clears the reason
        width = event.app.output.get_size().columns - 1
        buffer.validation_error = ValidationError(message=wrapped(f"{reason} (Up: what you typed)", width))

    app.key_bindings = merge_key_bindings([app.key_bindings, keys])


def wrapped(text: str, width: int) -> str:
    """``text`` broken between words into lines of at most ``width`` columns (a word longer than that, a path,
    is broken where it must)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, max(width, 20), break_on_hyphens=False)) or text


def _wrap_validation_errors(app) -> None:
    """Let prompt_toolkit's validation toolbar wrap (it is one line high, so a reason past the terminal's width
    would be cut off)."""
    from prompt_toolkit.filters import to_filter

    for window in app.layout.find_all_windows():
        text = getattr(window.content, "text", None)
        if "ValidationToolbar" in getattr(text, "__qualname__", ""):
            window.height, window.wrap_lines = None, to_filter(True)


class Prompter:
    """questionary questions with a placeholder default, in-place validation, Esc for back."""

    def _ask(self, question) -> Any:
        from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

        keys = KeyBindings()

        @keys.add("escape", eager=True)
        def _back(event) -> None:
            buffer = event.app.current_buffer
            if buffer.complete_state:  # Esc first closes an open completion menu
                buffer.cancel_completion()
            else:
                event.app.exit(exception=_Escape, style="class:aborting")

        app = question.application
        app.key_bindings = merge_key_bindings([app.key_bindings, keys])
        _wrap_validation_errors(app)
        try:
            answer = question.unsafe_ask()
        except _Escape:
            raise Back from None
        except (KeyboardInterrupt, EOFError):
            raise Cancelled from None
        if answer is None:
            raise Cancelled
        return answer

    @staticmethod
    def _style():
        from prompt_toolkit.styles import Style

        return Style(STYLE)

    def text(self, message: str, parse: Callable[[str], Any], default: Any = NO_DEFAULT, *, optional: bool = False,
             blank: str = "none", suffixes: bool = False, parse_default: bool = False, completer=None,
             meta=None) -> Any:
        """Ask until ``parse`` accepts the text; Enter on an empty line takes ``default`` (``None`` is shown as
        ``blank``; with ``parse_default`` the default is text that ``parse`` reads); with ``optional``, ``none``
        clears the answer."""
        import questionary

        def accept(typed: str) -> Any:
            text = typed.strip()
            if not text:
                if default is NO_DEFAULT or (default is None and not optional):
                    return parse(text)  # says what is expected
                return parse(str(default)) if parse_default else default
            if optional and text.lower() in NONE_WORDS:
                return None
            return parse(text)

        shown = "" if default is NO_DEFAULT else (blank if default is None else default_text(default, suffixes))
        if optional and default is not None and default is not NO_DEFAULT:
            shown += "   (none: clear it)"
        options = dict(style=self._style(), placeholder=placeholder(shown) if shown else None)
        if completer is not None:
            question = questionary.autocomplete(message, choices=completer, meta_information=meta, **options)
        else:
            question = questionary.text(message, **options)
        _refuse_on_enter(question.application, validator(accept))
        return accept(self._ask(question))

    def choice(self, message: str, choices: list[tuple[Any, str]], default: Any = None,
               instruction: str = "(arrows or type)", erase: bool = False) -> Any:
        """Pick one of ``(value, title)`` pairs with the arrow keys or by typing part of its title."""
        import questionary

        values = [_NONE if value is None else value for value, _ in choices]
        items = [questionary.Choice(title=title, value=value) for value, (_, title) in zip(values, choices)]
        wanted = _NONE if default is None else default
        start = next((c for c in items if c.value == wanted), None)
        answer = self._ask(questionary.select(message, choices=items, default=start, use_search_filter=True,
                                              use_jk_keys=False, style=self._style(),
                                              instruction=instruction, erase_when_done=erase))
        return None if answer == _NONE else answer

    def confirm(self, message: str, default: bool) -> bool:
        import questionary

        return self._ask(questionary.confirm(message, default=default, style=self._style()))
