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
    assert "assign" in r.stdout


def test_no_arguments_prints_help():
    r = run()
    assert r.returncode == 0 and "usage: bpcourse" in r.stdout


def test_unknown_command_is_a_usage_error():
    r = run("frobnicate")
    assert r.returncode == 2 and "invalid choice" in r.stderr
