"""The learner's workspace: `bpcourse open` makes it, `bpcourse update` merges course updates.

Most tests use a tiny course of two notebooks (written here, in tmp_path) as the release to
make and update workspaces from; the first ones use the course notebooks of the package.
JupyterLab is never started here (``subprocess.call`` of ``bpcourse open`` is replaced);
tests/test_wheel_install.py starts it for real.
"""

import json
from pathlib import Path

import nbformat
from nbformat import v4
import pytest

from bpcourse import cli
from bpcourse.workspace import location
from bpcourse.workspace.create import ensure_workspace
from bpcourse.workspace.files import sha256
from bpcourse.workspace.manifest import STATE, Workspace
from bpcourse.workspace.merge import merge
from bpcourse.workspace.release import course_notebooks, package_notebooks_dir
from bpcourse.workspace.update import update

from workspace_helpers import (MINE, STUB, code, edit, first_release, learner_implements, md,
                               notebook, read, snapshot, write_release)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def tiny(tmp_path):
    """A workspace made from the tiny course, and a function that releases an update."""
    rel1 = write_release(tmp_path / "release1", first_release())
    ws, created = ensure_workspace(tmp_path / "ws", source=rel1, echo=lambda *a: None)
    assert created

    def release(change):
        rel = first_release()
        change(rel)
        return write_release(tmp_path / "release2", rel)

    return ws.path, release


# ====================================================================== bpcourse open

def test_open_makes_the_workspace_from_the_package_notebooks(tmp_path, no_lab, capsys):
    ws = tmp_path / "me" / "ws"
    assert cli.main(["open", str(ws), "--no-browser"]) == 0
    shipped = {p.name: p.read_bytes() for p in package_notebooks_dir().glob("*.ipynb")}
    assert len(shipped) >= 10
    assert {p.name: p.read_bytes() for p in ws.glob("*.ipynb")} == shipped
    manifest = json.loads((ws / STATE / "workspace.json").read_text())
    assert set(manifest["notebooks"]) == set(shipped) and len(manifest["learner"]) >= 8
    for name, data in shipped.items():   # the merge bases: exactly what was given
        assert (ws / STATE / "given" / f"{sha256(data)}.ipynb").read_bytes() == data
    (cmd,) = no_lab
    assert cmd[1:4] == ["lab", str(ws), "--no-browser"] and cmd[0].endswith("jupyter")
    assert "Created your workspace" in capsys.readouterr().out


def test_open_a_second_time_only_opens_it(tmp_path, no_lab, capsys):
    ws = tmp_path / "ws"
    assert cli.main(["open", str(ws)]) == 0
    first = sorted(ws.glob("*.ipynb"))[0]
    first.write_text(first.read_text().replace("YOUR CODE HERE", "my work"))
    (ws / "mine.ipynb").write_text("{}")
    before = snapshot(ws)
    capsys.readouterr()
    assert cli.main(["open", str(ws)]) == 0
    assert snapshot(ws) == before
    out = capsys.readouterr().out
    assert "Created" not in out and "Opening" in out and "course has changed" not in out
    assert len(no_lab) == 2


def test_open_says_when_the_course_has_changed_since(tmp_path, no_lab, capsys):
    rel = write_release(tmp_path / "rel", first_release())
    ws, _ = ensure_workspace(tmp_path / "ws", source=rel, echo=print)
    # the installed course differs from the tiny one this workspace was made from
    assert cli.main(["open", str(ws.path)]) == 0
    assert f"run `bpcourse update {ws.path}`" in capsys.readouterr().out


def test_options_after_a_double_dash_go_to_jupyterlab(tmp_path, no_lab, monkeypatch):
    """The README's `bpcourse open -- --port 8890` (it used to say "no folder --port/ here")."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["open", "--", "--port", "8890"]) == 0
    assert no_lab[-1][2:5] == [str(home / "bpcourse"), "--port", "8890"]
    assert (home / "bpcourse" / STATE / "workspace.json").is_file()
    assert not (tmp_path / "--port").exists()
    assert cli.main(["open", str(tmp_path / "other"), "--no-browser", "--", "--port", "8891",
                     "--ServerApp.token="]) == 0
    assert no_lab[-1][2:] [:5] == [str(tmp_path / "other"), "--no-browser", "--port", "8891",
                                   "--ServerApp.token="]


def test_the_default_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    clone = tmp_path / "clone"
    (clone / "bpcourse").mkdir(parents=True)
    (clone / "bpcourse" / "__init__.py").write_text("")
    (clone / "solutions").mkdir()
    (clone / "pyproject.toml").write_text('[project]\nname = "bpcourse"\n')
    (clone / "tests").mkdir()
    assert location.default_workspace(clone) == clone / "bpcourse-work"
    assert location.default_workspace(clone / "tests") == clone / "bpcourse-work"
    assert location.default_workspace(REPO) == REPO / "bpcourse-work"     # the real clone
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert location.default_workspace(elsewhere) == tmp_path / "home" / "bpcourse"
    (clone / "pyproject.toml").write_text('[project]\nname = "another"\n')
    assert location.default_workspace(clone) == tmp_path / "home" / "bpcourse"
    rel = write_release(tmp_path / "rel", first_release())
    ws, _ = ensure_workspace(elsewhere / "ws", source=rel, echo=lambda *a: None)
    (ws.path / "sub").mkdir()
    assert location.default_workspace(ws.path / "sub") == ws.path   # a terminal in the workspace
    assert "bpcourse-work" in (REPO / ".gitignore").read_text()


def test_open_adopts_a_folder_without_overwriting_anything(tmp_path, no_lab, capsys):
    ws = tmp_path / "ws"
    ws.mkdir()
    shipped = course_notebooks()
    first = next(iter(shipped))
    (ws / first).write_text('{"cells": [], "mine": true}')
    (ws / "my_experiments.ipynb").write_text("{}")
    assert cli.main(["open", str(ws)]) == 0
    assert (ws / first).read_text() == '{"cells": [], "mine": true}'
    assert (ws / "my_experiments.ipynb").read_text() == "{}"
    offered = first.replace(".ipynb", ".new.ipynb")
    assert (ws / offered).read_bytes() == shipped[first]
    assert f"the course's version is beside it as {offered}" in capsys.readouterr().out
    for name in list(shipped)[1:]:
        assert (ws / name).read_bytes() == shipped[name]


# ====================================================================== bpcourse update

def test_update_adds_replaces_and_merges_keeping_every_edit(tiny):
    ws, release = tiny
    edit(ws / "01_dense.ipynb", learner_implements)
    edit(ws / "01_dense.ipynb", lambda nb: nb.cells.insert(3, v4.new_code_cell("print('own cell')")))
    edit(ws / "01_dense.ipynb", lambda nb: nb.cells[2].outputs.append(
        v4.new_output("stream", name="stdout", text="✓ dense_forward passed\n")))
    (ws / "mine.ipynb").write_text(notebook(code("my = 'own notebook'", "m0")))
    learners = (ws / "01_dense.ipynb").read_bytes()

    def course_update(rel):
        rel["01_dense.ipynb"][0] = md("# Dense\nZ = XW + b.\n\nNEW TEXT.", "a0")
        rel["01_dense.ipynb"][2] = code("dense_forward = check(dense_forward)  # new check", "a2")
        rel["02_demo.ipynb"][2] = md("Bye, changed", "b2")
        rel["03_new.ipynb"] = [md("# A new notebook", "c0")]

    outcome = update(ws, release(course_update))
    assert [n for n, *_ in outcome.merged] == ["01_dense.ipynb"]
    assert outcome.replaced == ["02_demo.ipynb"] and outcome.added == ["03_new.ipynb"]
    assert not outcome.offered
    merged = read(ws / "01_dense.ipynb")
    sources = [c.source for c in merged.cells]
    assert MINE in sources and "print('own cell')" in sources        # the learner's cells ...
    assert sources.index("print('own cell')") == sources.index(MINE) + 2     # ... where they were
    assert "NEW TEXT." in sources[0]                                 # the course's changes
    assert "dense_forward = check(dense_forward)  # new check" in sources
    check_cell = next(c for c in merged.cells if "new check" in c.source)
    assert check_cell.outputs[0]["text"] == "✓ dense_forward passed\n"  # the learner's outputs
    nbformat.validate(merged)
    assert (ws / "mine.ipynb").read_text() == notebook(code("my = 'own notebook'", "m0"))
    (saved,) = (ws / STATE / "backups").glob("*/01_dense.ipynb")
    assert saved.read_bytes() == learners
    assert (ws / "02_demo.ipynb").read_text() == (ws.parent / "release2" / "02_demo.ipynb").read_text()
    manifest = Workspace.load(ws)
    assert manifest.given_bytes("01_dense.ipynb") == (ws.parent / "release2" / "01_dense.ipynb").read_bytes()
    assert update(ws, ws.parent / "release2").merged == []           # a second run: nothing to do


def test_when_both_changed_an_exercise_cell_the_learners_code_is_kept_and_the_rest_merged(tiny):
    ws, release = tiny
    edit(ws / "01_dense.ipynb", learner_implements)

    def new_stub(rel):
        rel["01_dense.ipynb"][1] = code(STUB.replace("one product", "a product and a bias"), "a1",
                                        "dense_forward")
        rel["01_dense.ipynb"][0] = md("# Dense, with more text", "a0")

    outcome = update(ws, release(new_stub))
    assert not outcome.offered
    ((name, saved, kept),) = outcome.merged
    assert name == "01_dense.ipynb" and kept and "cell 2" in kept[0]
    cells = [c.source for c in read(ws / "01_dense.ipynb").cells]
    assert cells[0] == "# Dense, with more text" and cells[1] == MINE       # theirs, and the news
    assert "your code there is kept as you wrote it" in "\n".join(outcome.lines())


def test_when_both_changed_one_markdown_cell_the_new_version_goes_beside_and_theirs_stays(tiny):
    ws, release = tiny
    edit(ws / "01_dense.ipynb", lambda nb: setattr(nb.cells[0], "source", "# Dense (my notes)"))
    learners = (ws / "01_dense.ipynb").read_bytes()
    rel2 = release(lambda rel: rel["01_dense.ipynb"].__setitem__(0, md("# Dense, with more text", "a0")))
    outcome = update(ws, rel2)
    ((name, new, why),) = outcome.offered
    assert (name, new) == ("01_dense.ipynb", "01_dense.new.ipynb")
    assert "both changed cell 1" in why
    assert (ws / "01_dense.ipynb").read_bytes() == learners
    assert (ws / new).read_bytes() == (rel2 / "01_dense.ipynb").read_bytes()
    update(ws, rel2)                                              # again: the same offer
    assert sorted(p.name for p in ws.glob("01_dense*")) == ["01_dense.ipynb", "01_dense.new.ipynb"]
    (ws / new).write_text((ws / new).read_text().replace("Dense, with", "Dense (more notes), with"))
    outcome = update(ws, rel2)                                    # the learner edited the offer
    assert outcome.offered[0][1] == "01_dense.new-2.ipynb"
    assert "more notes" in (ws / new).read_text()
    assert (ws / "01_dense.ipynb").read_bytes() == learners


def test_a_line_merge_inside_a_learners_cell_is_not_clean(tiny):
    """nbdime merges two edits of one cell's text when they touch different lines; the learner's
    code must stay exactly as written, so that is no merge."""
    ws, release = tiny
    mine = STUB.replace("# YOUR CODE HERE", "# my comment")
    edit(ws / "01_dense.ipynb", lambda nb: setattr(nb.cells[1], "source", mine))
    result = merge(*(t.read_text() for t in (ws.parent / "release1" / "01_dense.ipynb",
                                              ws / "01_dense.ipynb")),
                   notebook(*[c if i != 1 else code(STUB.replace("def dense_forward",
                                                                 "def  dense_forward"), "a1")
                              for i, c in enumerate(first_release()["01_dense.ipynb"])]))
    assert not result.clean and "changed a code cell that you changed too" in result.why


def test_a_cell_the_course_deleted_and_the_learner_edited_is_a_conflict(tiny):
    ws, release = tiny
    edit(ws / "02_demo.ipynb", lambda nb: setattr(nb.cells[1], "source", "print('mine')"))
    learners = (ws / "02_demo.ipynb").read_bytes()
    outcome = update(ws, release(lambda rel: rel["02_demo.ipynb"].pop(1)))
    assert [o[0] for o in outcome.offered] == ["02_demo.ipynb"]
    assert (ws / "02_demo.ipynb").read_bytes() == learners


def test_cells_inserted_at_one_place_by_both_are_all_kept_the_learners_first(tiny):
    ws, release = tiny
    edit(ws / "02_demo.ipynb", lambda nb: nb.cells.append(v4.new_code_cell("mine = 1")))
    outcome = update(ws, release(lambda rel: rel["02_demo.ipynb"].append(md("The course's", "b3"))))
    assert [n for n, *_ in outcome.merged] == ["02_demo.ipynb"]
    assert [c.source for c in read(ws / "02_demo.ipynb").cells][-2:] == ["mine = 1", "The course's"]


def test_outputs_changed_on_both_sides_keep_the_learners(tiny):
    ws, release = tiny
    edit(ws / "02_demo.ipynb", lambda nb: setattr(nb.cells[1], "outputs", [
        v4.new_output("stream", name="stdout", text="what I ran\n")]))
    outcome = update(ws, release(lambda rel: rel["02_demo.ipynb"].__setitem__(
        1, code("print(1)", "b1", text="the course's run\n"))))
    assert [n for n, *_ in outcome.merged] == ["02_demo.ipynb"]
    assert read(ws / "02_demo.ipynb").cells[1].outputs[0]["text"] == "what I ran\n"


def test_a_deleted_notebook_comes_back_and_a_retired_one_stays(tiny):
    ws, release = tiny
    (ws / "02_demo.ipynb").unlink()
    edit(ws / "01_dense.ipynb", learner_implements)
    outcome = update(ws, release(lambda rel: rel.pop("01_dense.ipynb")))
    assert outcome.restored == ["02_demo.ipynb"] and outcome.retired == ["01_dense.ipynb"]
    assert MINE in [c.source for c in read(ws / "01_dense.ipynb").cells]


def test_a_new_course_notebook_does_not_replace_a_learners_file_of_that_name(tiny):
    ws, release = tiny
    (ws / "03_new.ipynb").write_text("my own 03")
    outcome = update(ws, release(lambda rel: rel.__setitem__("03_new.ipynb", [md("course", "c0")])))
    assert outcome.offered[0][:2] == ("03_new.ipynb", "03_new.new.ipynb")
    assert (ws / "03_new.ipynb").read_text() == "my own 03"


def test_the_update_command_prints_what_it_did_and_exits_1_when_not_merged(tiny, capsys):
    ws, release = tiny
    assert cli.main(["update", str(ws), "--from", str(ws.parent / "release1")]) == 0
    assert "is up to date" in capsys.readouterr().out
    edit(ws / "01_dense.ipynb", lambda nb: setattr(nb.cells[0], "source", "# Dense (my notes)"))
    rel2 = release(lambda rel: rel["01_dense.ipynb"].__setitem__(0, md("# Dense, changed", "a0")))
    assert cli.main(["update", str(ws), "--from", str(rel2)]) == 1
    out = capsys.readouterr().out
    assert "NOT MERGED 01_dense.ipynb" in out and "01_dense.new.ipynb" in out
    assert "Your file is as it was" in out
    assert cli.main(["update", str(ws.parent / "nowhere")]) == 2
    assert "is not a workspace yet: `bpcourse open" in capsys.readouterr().err


def test_a_cell_inserted_just_before_a_cell_the_course_changed_is_kept(tiny):
    ws, release = tiny
    edit(ws / "01_dense.ipynb", learner_implements)
    edit(ws / "01_dense.ipynb", lambda nb: nb.cells.insert(2, v4.new_code_cell("mine = 1")))
    outcome = update(ws, release(lambda rel: rel["01_dense.ipynb"].__setitem__(
        2, code("dense_forward = check(dense_forward)  # new", "a2"))))
    assert [n for n, *_ in outcome.merged] == ["01_dense.ipynb"], outcome.offered
    assert [c.source for c in read(ws / "01_dense.ipynb").cells][1:4] == [
        MINE, "mine = 1", "dense_forward = check(dense_forward)  # new"]


def test_open_in_a_clone_mentions_the_old_notebooks_folder(tmp_path, no_lab, monkeypatch, capsys):
    clone = tmp_path / "clone"
    (clone / "bpcourse").mkdir(parents=True)
    (clone / "bpcourse" / "__init__.py").write_text("")
    (clone / "solutions").mkdir()
    (clone / "pyproject.toml").write_text('[project]\nname = "bpcourse"\n')
    (clone / "notebooks").mkdir()
    (clone / "notebooks" / "01_forward_pass.ipynb").write_text("{}")
    monkeypatch.chdir(clone)
    assert cli.main(["open"]) == 0
    out = capsys.readouterr().out
    assert f"Created your workspace {clone / 'bpcourse-work'}" in out
    assert f"`bpcourse open {clone / 'notebooks'}` makes that folder your workspace" in out
    assert (clone / "notebooks" / "01_forward_pass.ipynb").read_text() == "{}"
