"""What Reflex loads from the state store for one event: the handler's state, its parents, and
the states holding computed vars that depend on them. A page state whose computed var reads the
signed-in user (`AppState`) is loaded, unpickled and checked for every event of every page of
the tab, so pages show and hide by permission in the browser (`AppState.may`) instead."""

from __future__ import annotations

import importlib
import pkgutil

import pages
from crm_app.state import AppState

for _module in pkgutil.walk_packages(pages.__path__, "pages."):
    importlib.import_module(_module.name)  # every page's state (the app is not built)


def _tree(state: type) -> list[type]:
    found = [state]
    for substate in state.get_substates():
        found.extend(_tree(substate))
    return found


def test_an_event_loads_no_other_pages_state_through_a_computed_var():
    states = _tree(AppState.get_root_state())
    assert len(states) > 20  # the pages' states are registered
    loaded_with = {
        state.get_full_name(): sorted(
            other.get_full_name()
            for other in state._get_potentially_dirty_states()
            if other is not state
        )
        for state in states
    }
    assert {name: others for name, others in loaded_with.items() if others} == {}
