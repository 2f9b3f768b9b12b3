"""The plan's handoff: a set kept under the digest of its inputs, given back only for that key and only from a file
that is the engine's own; commit and rollback drop it."""
import json
import os

import pytest

from ansible_collections.revproxy.tls.plugins.module_utils.deploy import _handoff
from ansible_collections.revproxy.tls.plugins.module_utils.deploy._transaction import (
    apply,
    begin_transaction,
    commit,
    rollback,
)


class Target:
    """The deploy engine's neutral interface, as a second server would implement it."""

    def __init__(self, state_dir):
        self.transaction_file = os.path.join(state_dir, "transaction.json")
        self.handoff_file = os.path.join(state_dir, "handoff.json")


@pytest.fixture()
def state(tmp_path):
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    return str(directory)


def test_digest_is_of_the_exact_inputs():
    assert _handoff.digest([{"a": 1, "b": [2]}]) == _handoff.digest([{"b": [2], "a": 1}])
    assert _handoff.digest([{"a": 1}]) != _handoff.digest([{"a": 2}])
    assert len(_handoff.digest([])) == 64


def test_kept_set_comes_back_for_its_key_only(state):
    path = os.path.join(state, "handoff.json")
    assert _handoff.keep(path, "k1", [{"name": "a"}])
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert _handoff.load(path, "k1") == [{"name": "a"}]
    assert _handoff.load(path, "k2") is None
    assert _handoff.load(path, "") is None
    _handoff.discard(path)
    assert _handoff.load(path, "k1") is None
    _handoff.discard(path)  # nothing there: quiet


def test_makes_its_own_directory_but_no_parent(tmp_path):
    assert _handoff.keep(str(tmp_path / "run" / "handoff.json"), "k", [])
    assert os.stat(str(tmp_path / "run")).st_mode & 0o777 == 0o700
    assert not _handoff.keep(str(tmp_path / "absent" / "run" / "handoff.json"), "k", [])
    assert not os.path.exists(str(tmp_path / "absent"))


@pytest.mark.parametrize("what", ["symlink", "mode", "torn", "group_writable_dir", "not_a_dict"])
def test_a_file_that_is_not_the_engines_reads_as_none(state, tmp_path, what):
    path = os.path.join(state, "handoff.json")
    if what == "symlink":
        planted = tmp_path / "planted.json"
        planted.write_text(json.dumps({"key": "k", "payload": ["evil"]}))
        os.chmod(str(planted), 0o600)
        os.symlink(str(planted), path)
    else:
        assert _handoff.keep(path, "k", ["ok"])
        if what == "mode":
            os.chmod(path, 0o644)
        elif what == "torn":
            with open(path, "w") as handle:
                handle.write('{"key": "k", "payl')
        elif what == "group_writable_dir":
            os.chmod(state, 0o770)
        else:
            with open(path, "w") as handle:
                handle.write('["k"]')
    assert _handoff.load(path, "k") is None


def test_commit_and_rollback_drop_the_handoff(state):
    target = Target(state)
    for finish in (commit, rollback):
        assert _handoff.keep(target.handoff_file, "k", ["a"])
        begin_transaction(target, apply([]))
        finish(target)
        assert not os.path.exists(target.handoff_file) and not os.path.exists(target.transaction_file)


def test_an_earlier_runs_commit_can_keep_this_runs_handoff(state):
    target = Target(state)
    begin_transaction(target, apply([]))
    assert _handoff.keep(target.handoff_file, "k", ["a"])
    commit(target, drop_handoff=False)
    assert _handoff.load(target.handoff_file, "k") == ["a"] and not os.path.exists(target.transaction_file)


def test_abandoned_sets_are_swept_when_a_new_one_is_kept(state):
    old, fresh = os.path.join(state, "old.json"), os.path.join(state, "fresh.json")
    assert _handoff.keep(old, "k", [])
    assert _handoff.keep(fresh, "k", [])
    os.utime(old, (1, 1))
    assert _handoff.keep(os.path.join(state, "new.json"), "k", [])
    assert not os.path.exists(old) and os.path.exists(fresh)
