"""Fixtures shared by the workspace tests."""

import pytest


@pytest.fixture
def no_lab(monkeypatch):
    """The command lines `bpcourse open` would run; JupyterLab itself is not started."""
    from bpcourse import launch

    calls = []
    monkeypatch.setattr(launch.subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    return calls
