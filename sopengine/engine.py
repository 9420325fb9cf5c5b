"""The workflow: one ``transitions`` state machine per definition version.

A compiled definition (the plain dict a run keeps) becomes one :class:`Workflow`, built
once and cached by the definition's hash. Its states are the step parts (a multi-actor row
has one state per lane) and ``selesai``; its triggers are ``complete`` (process steps),
``decide:<outcome>`` (decisions taken by a person) and ``auto`` (automatic decisions,
whose outcomes carry conditions evaluated against the run's facts).

A run's open steps are *tokens*. The machine keeps one model attached for good; for each
trigger it is set to the open branch's state (``set_state``, which fires no callbacks), so
that one machine serves every run without re-binding methods per operation. Callbacks record
where the token moved and which extra branches a parallel split started; the run layer turns
those moves into task rows and events.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from transitions import Machine, MachineError

END = "selesai"


def state_name(step_id: str, part: int = 0) -> str:
    """The machine state of one lane of a row: the step id, then ``step#2``, ``step#3`` ..."""
    return step_id if part == 0 else f"{step_id}#{part + 1}"


def split_state(state: str) -> tuple[str, int]:
    step, _, part = state.partition("#")
    return step, (int(part) - 1 if part else 0)


def decide_trigger(outcome_key: str) -> str:
    return f"decide:{outcome_key}"


class Token:
    """The model the machine moves: set to an open branch's state for one trigger.

    Each workflow keeps one token attached for good and sets its state before each trigger
    (``Machine.set_state``): attaching a model per operation (``add_model``/``remove_model``)
    costs about a fifth of a whole step, since it binds every trigger and state method anew.
    A plain class (no ``__slots__``): the machine adds its trigger methods and ``state`` to it.
    """

    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts
        self.moves: list[tuple[str, str, str]] = []  # (trigger, source, dest)
        self.spawned: list[str] = []


class Fired(NamedTuple):
    """Where a trigger took a branch: its moves (trigger, source, dest) and the branches it started."""

    moves: list[tuple[str, str, str]]
    spawned: list[str]


def missing_facts(outcomes: list[dict[str, Any]], facts: dict[str, Any]) -> list[str]:
    """The facts an automatic decision needs and the run lacks; empty when it can be taken.

    The outcomes are tried in order, as the machine tries them: one whose facts are all known
    and hold (or ``otherwise``, after outcomes that did not hold) decides. Before that, an
    outcome that reads a fact the run does not have (a run without a period, case data not
    given) stops the decision: a missing fact never falls through to a later outcome. The
    facts missing from that outcome and every later one are returned.
    """
    for i, outcome in enumerate(outcomes):
        when = outcome["when"]
        if when == "otherwise":
            return []
        if any(facts.get(fact) is None for fact in when):
            missing: list[str] = []
            for later in outcomes[i:]:
                if isinstance(later["when"], dict):
                    missing += [f for f in later["when"] if facts.get(f) is None and f not in missing]
            return missing
        if matches(when, facts):
            return []
    return []


def matches(when: Any, facts: dict[str, Any]) -> bool:
    """Does an automatic outcome's ``when`` hold? Every fact must equal (or be one of) its value."""
    if when == "otherwise":
        return True
    for fact, expected in when.items():
        actual = facts.get(fact)
        if isinstance(expected, list):
            if actual not in expected:
                return False
        elif actual != expected:
            return False
    return True


class Workflow:
    """The state machine of one definition version."""

    def __init__(self, compiled: dict[str, Any]) -> None:
        self.compiled = compiled
        self.steps: dict[str, dict[str, Any]] = compiled["steps"]
        states: list[str] = [END]
        transitions: list[dict[str, Any]] = []
        for step_id in compiled["order"]:
            step = self.steps[step_id]
            lanes = step["lanes"] or [None]
            for part in range(len(lanes)):
                source = state_name(step_id, part)
                states.append(source)
                if part < len(lanes) - 1:
                    transitions.append({"trigger": "complete", "source": source, "dest": state_name(step_id, part + 1)})
                    continue
                if step["kind"] == "process":
                    first, *others = step["next"]
                    t: dict[str, Any] = {"trigger": "complete", "source": source, "dest": first}
                    if others:
                        # A split: the token follows the first branch; the others become new tokens.
                        t["after"] = self._spawner(others)
                    transitions.append(t)
                else:
                    if step["automatic"]:
                        for outcome in step["outcomes"]:
                            transitions.append({
                                "trigger": "auto", "source": source, "dest": outcome["next"],
                                "conditions": [self._condition(outcome["when"])],
                            })
                    # A person takes a decision; an automatic one too, when a fact it reads is
                    # missing and the run stopped there for them.
                    for outcome in step["outcomes"]:
                        t = {"trigger": decide_trigger(outcome["key"]), "source": source, "dest": outcome["next"]}
                        if outcome.get("spawn"):
                            # An outcome drawn as several arrows (format 2): the token follows the
                            # first, the others become new tokens, as a split does.
                            t["after"] = self._spawner(outcome["spawn"])
                        transitions.append(t)
        self.machine = Machine(
            model=None,
            states=states,
            transitions=transitions,
            initial=None,
            auto_transitions=False,
            send_event=True,
            after_state_change=self._record,
        )
        self._token = Token({})
        self._lock = threading.Lock()
        self.machine.add_model(self._token, initial=END)

    @staticmethod
    def _record(event: Any) -> None:
        event.model.moves.append((event.event.name, event.transition.source, event.transition.dest))

    @staticmethod
    def _spawner(targets: list[str]):
        def spawn(event: Any) -> None:
            event.model.spawned.extend(targets)

        return spawn

    @staticmethod
    def _condition(when: Any):
        def holds(event: Any) -> bool:
            return matches(when, event.model.facts)

        return holds

    def fire(self, state: str, trigger: str, facts: dict[str, Any] | None = None) -> Fired:
        """Put the token at *state*, fire *trigger*; say where it went."""
        with self._lock:  # one token per machine: threads of one process take turns
            token = self._token
            token.facts, token.moves, token.spawned = facts or {}, [], []
            self.machine.set_state(state, model=token)
            try:
                fired = token.trigger(trigger)  # type: ignore[attr-defined]
            except MachineError as exc:
                raise ValueError(f"{trigger!r} cannot fire in state {state!r}: {exc.value}") from None
            finally:
                token.facts = {}  # no run's data stays on the shared token
            if not fired:
                raise ValueError(f"no outcome of {state!r} holds for the run's facts")
            return Fired(token.moves, token.spawned)

    def triggers(self, state: str) -> list[str]:
        """The triggers that can fire from *state*."""
        return self.machine.get_triggers(state)


_CACHE: dict[str, Workflow] = {}


def workflow(compiled: dict[str, Any]) -> Workflow:
    """The cached workflow of a compiled definition (built once per definition hash)."""
    key = compiled["hash"]
    wf = _CACHE.get(key)
    if wf is None:
        wf = _CACHE[key] = Workflow(compiled)
    return wf
