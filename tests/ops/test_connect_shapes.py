"""Connect's status/info/tasks/topics documents from worker snapshots: pure logic, many cases."""

from __future__ import annotations

import pytest

from streamapp.ops.connect_shapes import (
    ConnectorView,
    connector_info,
    connector_status,
    connector_tasks,
    connector_topics,
    expanded,
)

SINK = ConnectorView("s", "sink", "com.x.SinkConnector", {"topics": "a", "diffusion.password": "[hidden]"}, ("a",))
SOURCE = ConnectorView("src", "source", "com.x.SourceConnector", {"kafka.topic": "k"})


def worker(wid: str, leader: bool = False, **connectors) -> dict:
    return {"worker_id": wid, "leader": leader, "connectors": connectors}


def snap(state="RUNNING", task=True, trace=None, topics=()) -> dict:
    return {"state": state, "task": task, "trace": trace, "topics": list(topics)}


def test_no_live_worker_is_unassigned():
    assert connector_status(SINK, [], False) == {
        "name": "s",
        "connector": {"state": "UNASSIGNED", "worker_id": ""},
        "tasks": [],
        "type": "sink",
    }


def test_sink_tasks_are_the_workers_with_partitions_numbered_by_worker_id():
    workers = [
        worker("w2:1", s=snap()),
        worker("w1:1", leader=True, s=snap()),
        worker("w3:1", s=snap(task=False)),  # runs the agent, no partition assigned
    ]
    status = connector_status(SINK, workers, False)
    assert status["connector"] == {"state": "RUNNING", "worker_id": "w1:1"}  # the leader
    assert status["tasks"] == [
        {"id": 0, "state": "RUNNING", "worker_id": "w1:1"},
        {"id": 1, "state": "RUNNING", "worker_id": "w2:1"},
    ]


def test_connector_runs_on_first_worker_when_no_leader_reported():
    status = connector_status(SINK, [worker("b:1", s=snap()), worker("a:1", s=snap())], False)
    assert status["connector"]["worker_id"] == "b:1"


def test_failed_task_carries_its_trace_others_do_not():
    workers = [
        worker("a:1", s=snap("FAILED", trace="record t/0@5 failed\nTraceback")),
        worker("b:1", s=snap(trace="x")),
    ]
    tasks = connector_status(SINK, workers, False)["tasks"]
    assert tasks[0] == {"id": 0, "state": "FAILED", "worker_id": "a:1", "trace": "record t/0@5 failed\nTraceback"}
    assert "trace" not in tasks[1]


@pytest.mark.parametrize(
    ("reported", "paused", "expected"),
    [
        ("RUNNING", True, "PAUSED"),  # requested, not yet applied there: Connect shows the target
        ("PAUSED", True, "PAUSED"),
        ("FAILED", True, "FAILED"),  # a pause does not hide a failure
        ("PAUSED", False, "PAUSED"),  # resumed, not yet applied there
        ("RUNNING", False, "RUNNING"),
        ("UNASSIGNED", False, "UNASSIGNED"),
    ],
)
def test_task_state_with_pause_target(reported, paused, expected):
    status = connector_status(SINK, [worker("a:1", True, s=snap(reported))], paused)
    assert status["tasks"][0]["state"] == expected
    assert status["connector"]["state"] == ("PAUSED" if paused else "RUNNING")


def test_not_implemented_connector_is_failed_with_a_reason():
    view = ConnectorView("c", "sink", "com.x.Future", {}, implemented=False)
    status = connector_status(view, [worker("a:1", True, c=snap("FAILED", task=False))], False)
    assert status["connector"]["state"] == "FAILED"
    assert "not implemented" in status["connector"]["trace"]
    assert status["tasks"] == []


def test_source_has_one_task_on_the_worker_subscribed():
    workers = [worker("a:1", src=snap("UNASSIGNED", task=False)), worker("b:1", True, src=snap("RUNNING"))]
    status = connector_status(SOURCE, workers, False)
    assert status["type"] == "source"
    assert status["tasks"] == [{"id": 0, "state": "RUNNING", "worker_id": "b:1"}]


def test_source_connector_runs_where_its_task_runs_not_on_the_leader():
    workers = [
        worker("a:1", True, src=snap("UNASSIGNED", task=False), other=snap("UNASSIGNED", task=False)),
        worker("b:1", src=snap("RUNNING")),
        worker("c:1", other=snap("PAUSED")),
    ]
    assert connector_status(SOURCE, workers, False)["connector"] == {"state": "RUNNING", "worker_id": "b:1"}
    other = ConnectorView("other", "source", "com.x.SourceConnector", {})
    assert connector_status(other, workers, True)["connector"] == {"state": "PAUSED", "worker_id": "c:1"}
    assert connector_status(other, workers, True)["tasks"] == [{"id": 0, "state": "PAUSED", "worker_id": "c:1"}]


def test_source_not_placed_anywhere_yet_shows_the_leader_and_no_task():
    workers = [
        worker("a:1", src=snap("UNASSIGNED", task=False)),
        worker("b:1", True, src=snap("UNASSIGNED", task=False)),
    ]
    status = connector_status(SOURCE, workers, False)
    assert status["connector"]["worker_id"] == "b:1" and status["tasks"] == []


def test_connectors_missing_from_a_worker_are_ignored_there():
    workers = [worker("a:1", True, other=snap()), worker("b:1", s=snap())]
    assert [t["worker_id"] for t in connector_status(SINK, workers, False)["tasks"]] == ["b:1"]


def test_info_and_tasks_shapes():
    workers = [worker("a:1", True, s=snap()), worker("b:1", s=snap())]
    assert connector_info(SINK, workers, False) == {
        "name": "s",
        "config": {"topics": "a", "diffusion.password": "[hidden]", "name": "s"},
        "tasks": [{"connector": "s", "task": 0}, {"connector": "s", "task": 1}],
        "type": "sink",
    }
    tasks = connector_tasks(SINK, workers, False)
    assert [t["id"] for t in tasks] == [{"connector": "s", "task": 0}, {"connector": "s", "task": 1}]
    assert tasks[0]["config"]["task.class"] == "com.x.SinkConnector"
    assert tasks[0]["config"]["diffusion.password"] == "[hidden]"


def test_topics_union_of_config_and_what_workers_report():
    workers = [worker("a:1", s=snap(topics=["b"])), worker("b:1", s=snap(topics=["a", "c"]))]
    assert connector_topics(SINK, workers) == {"s": {"topics": ["a", "b", "c"]}}
    assert connector_topics(SOURCE, []) == {"src": {"topics": []}}


@pytest.mark.parametrize(
    ("expand", "keys"),
    [(["status"], {"status"}), (["info"], {"info"}), (["status", "info"], {"status", "info"}), (["bogus"], set())],
)
def test_expand(expand, keys):
    out = expanded([SINK, SOURCE], [worker("a:1", True, s=snap())], {"s": True}, expand)
    assert set(out) == {"s", "src"}
    assert set(out["s"]) == keys
    if "status" in keys:
        assert out["s"]["status"]["connector"]["state"] == "PAUSED"
        assert out["src"]["status"]["connector"]["state"] == "UNASSIGNED"
