"""The command line: --version, --help, and running as a module."""

import subprocess
import sys

import bpcourse


def run(*args):
    return subprocess.run([sys.executable, "-m", "bpcourse", *args], capture_output=True, text=True)


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"bpcourse {bpcourse.__version__}"


def test_help_lists_the_subcommands():
    r = run("--help")
    assert r.returncode == 0
    for command in ("open", "update", "progress", "submit", "assign", "grade"):
        assert command in r.stdout, command


def test_no_arguments_prints_help():
    r = run()
    assert r.returncode == 0 and "usage: bpcourse" in r.stdout


def test_unknown_command_is_a_usage_error():
    r = run("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_open_builds_the_jupyter_lab_command(monkeypatch):
    from bpcourse import launch

    monkeypatch.setattr(launch.os, "geteuid", lambda: 1000)
    cmd = launch.command("notebooks", ["--port", "8890"])
    assert cmd[1:] == ["lab", "notebooks", "--port", "8890"] and cmd[0].endswith("jupyter")
    monkeypatch.setattr(launch.os, "geteuid", lambda: 0)  # JupyterLab refuses root without this
    assert launch.command("notebooks")[-1] == "--allow-root"


def test_options_after_a_double_dash_are_refused_by_commands_that_start_nothing(capsys):
    import pytest

    from bpcourse.cli import main

    with pytest.raises(SystemExit) as e:
        main(["progress", "--", "--port", "8890"])
    assert e.value.code == 2
    assert "takes no options after --" in capsys.readouterr().err
