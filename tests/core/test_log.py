"""The Python API: open, add, append, batch, get, heads, changes, len, in, graph, info."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from helpers import Snapshot

import hyperframe
from hyperframe import Log, Node

HELLO = "8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602"
WORLD = "5f5e63be98841981a12b6041e4200677851714ec4305d13a3ee30197439ff193"
ABSENT = "ab" * 32


def values(log: Log) -> list[object]:
    return [n.value for n in log.changes()]


# --- open -------------------------------------------------------------------------------


def test_open_creates_nothing_until_the_first_write(log_path: Path) -> None:
    log = hyperframe.open(log_path)
    assert len(log) == 0
    assert log.heads() == []
    assert list(log.changes()) == []
    assert HELLO not in log
    assert log.graph.number_of_nodes() == 0
    assert log.info()["nodes"] == 0
    with pytest.raises(hyperframe.NodeNotFoundError):
        log.get("8c7e")
    assert not log_path.exists()
    log.add("hello")
    assert log_path.is_dir()
    assert len(hyperframe.open(log_path)) == 1


def test_open_an_empty_existing_directory_makes_a_log_there(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path)
    log.add("hello")
    assert [n.key for n in hyperframe.open(tmp_path).changes()] == [HELLO]


def test_a_directory_with_other_files_is_not_a_log(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(hyperframe.NotALogError) as info:
        hyperframe.open(tmp_path)
    assert info.value.path == str(tmp_path)
    assert "not a hyperframe log" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_file_is_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "file.db"
    path.write_text("x")
    with pytest.raises(hyperframe.NotALogError):
        hyperframe.open(path)


def test_repr_names_the_path_size_and_encoding(log: Log) -> None:
    log.add("hello")
    text = repr(log)
    assert str(log.path) in text and "1 nodes" in text and "utf-8" in text


# --- add, links, append -------------------------------------------------------------------


def test_add_returns_the_node(log: Log) -> None:
    node = log.add("hello")
    assert isinstance(node, Node)
    assert (node.key, node.links, node.value, node.change) == (HELLO, (), "hello", 1)


def test_add_with_links(log: Log) -> None:
    hello = log.add("hello")
    world = log.add("world", links=[hello.key])
    assert (world.key, world.links, world.change) == (WORLD, (HELLO,), 2)
    assert log.heads() == [WORLD]


def test_add_accepts_upper_case_link_keys(log: Log) -> None:
    log.add("hello")
    assert log.add("world", links=[HELLO.upper()]).key == WORLD


def test_a_link_must_be_a_full_key(log: Log) -> None:
    log.add("hello")
    with pytest.raises(hyperframe.UsageError):
        log.add("world", links=[HELLO[:8]])
    assert len(log) == 1


def test_unknown_link_is_refused_and_nothing_written(log: Log, log_path: Path, snapshot: Snapshot) -> None:
    log.add("hello")
    before = snapshot(log_path)
    version = log.info()["version"]
    with pytest.raises(hyperframe.UnknownLinkError) as info:
        log.add("hi", links=[ABSENT])
    assert info.value.key == ABSENT
    assert "Nothing was written" in str(info.value)
    assert snapshot(log_path) == before
    assert hyperframe.open(log_path).info()["version"] == version
    assert len(log) == 1


def test_unknown_link_on_a_new_log_leaves_nothing_on_disk(log_path: Path) -> None:
    # "A failed command changes nothing on disk": not even an empty log directory.
    with pytest.raises(hyperframe.UnknownLinkError):
        hyperframe.open(log_path).add("hi", links=[ABSENT])
    assert not log_path.exists()


def test_unknown_link_errors_are_key_errors_too(log: Log) -> None:
    with pytest.raises(KeyError):
        log.add("hi", links=[ABSENT])


def test_append_links_every_head_in_ascending_key_order(log: Log) -> None:
    for v in ["a", "b", "c", "d"]:
        log.add(v)
    heads = log.heads()
    assert heads == sorted(heads) and len(heads) == 4
    merge = log.append("merge")
    assert list(merge.links) == heads
    assert merge.key == hyperframe.node_key(b"merge", heads)
    assert log.heads() == [merge.key]


def test_append_on_an_empty_log_links_nothing(log: Log) -> None:
    assert log.append("first").links == ()


def test_append_then_append_makes_a_chain(log: Log) -> None:
    a = log.append("x")
    b = log.append("x")
    assert b.links == (a.key,) and b.key != a.key
    assert len(log) == 2


# --- dedup ------------------------------------------------------------------------------


def test_adding_an_existing_node_returns_it_and_stores_nothing(log: Log, log_path: Path, snapshot: Snapshot) -> None:
    first = log.add("hello")
    log.add("world", links=[first.key])
    before = snapshot(log_path)
    again = log.add("hello")
    assert again == first
    assert len(log) == 2
    assert snapshot(log_path) == before
    assert [n.key for n in log.changes()] == [HELLO, WORLD]


def test_a_batch_holding_the_same_doc_twice_stores_it_once(log: Log) -> None:
    a, b = log.batch([{"value": "same"}, {"value": "same", "links": []}])
    assert a == b and a.change == 1
    assert len(log) == 1


def test_a_batch_mixing_old_and_new_nodes_stores_only_the_new(log: Log) -> None:
    hello = log.add("hello")
    nodes = log.batch([{"value": "hello"}, {"value": "world", "links": [HELLO]}])
    assert nodes[0] == hello
    assert (nodes[1].key, nodes[1].change) == (WORLD, 2)
    assert len(log) == 2


def test_append_after_a_duplicate_in_the_same_batch_links_only_real_heads(log: Log) -> None:
    # "a" exists and is no longer a head (b links it). Re-adding it stores nothing, so it
    # must not become a head again: the batch must give the same node as doing the two
    # steps one after the other.
    a = log.add("a")
    b = log.add("b", links=[a.key])
    _, merge = log.batch([{"value": "a"}, {"value": "m", "links": None}])
    assert merge.links == (b.key,)
    assert log.heads() == [merge.key]


# --- batch ------------------------------------------------------------------------------


def test_batch_returns_the_nodes_in_order(json_log: Log) -> None:
    nodes = json_log.batch([{"value": {"n": i}} for i in range(5)])
    assert [n.value for n in nodes] == [{"n": i} for i in range(5)]
    assert [n.change for n in nodes] == [1, 2, 3, 4, 5]
    assert json_log.info()["segments"] == 1


def test_batch_doc_may_link_an_earlier_doc_of_the_same_batch(log: Log) -> None:
    hello, world = log.batch([{"value": "hello"}, {"value": "world", "links": [HELLO]}])
    assert (hello.key, world.key) == (HELLO, WORLD)
    assert log.heads() == [WORLD]


def test_batch_doc_linking_a_later_doc_is_refused_with_advice(log: Log) -> None:
    with pytest.raises(hyperframe.UnknownLinkError, match="put it first"):
        log.batch([{"value": "world", "links": [HELLO]}, {"value": "hello"}])
    assert len(log) == 0


def test_batch_of_3000_docs_each_linking_the_previous_stores_them_all(log: Log) -> None:
    # hyperlog 4.12.1 silently keeps 1 of these 3,000.
    docs = []
    previous: list[str] = []
    keys = []
    for i in range(3000):
        value = f"doc {i}"
        docs.append({"value": value, "links": list(previous)})
        key = hyperframe.node_key(value.encode(), previous)
        keys.append(key)
        previous = [key]
    nodes = log.batch(docs)
    assert [n.key for n in nodes] == keys
    assert len(log) == 3000
    assert log.heads() == [keys[-1]]
    stored = list(hyperframe.open(log.path).changes())
    assert [n.key for n in stored] == keys
    assert [n.change for n in stored] == list(range(1, 3001))
    assert all(n.links == (keys[i - 1],) for i, n in enumerate(stored) if i)


def test_batch_append_docs_link_the_heads_as_they_stand(log: Log) -> None:
    log.add("x")
    a, m = log.batch([{"value": "a"}, {"value": "m", "links": None}])
    assert list(m.links) == sorted([a.key, hyperframe.node_key(b"x", [])])


@pytest.mark.parametrize(
    "bad_doc",
    [
        {"value": 42},  # the encoding refuses it
        {"value": "x", "links": ["not hex"]},
        {"value": "x", "links": [ABSENT]},  # unknown link
        {"value": "x", "links": "8c7e"},  # links must be a list
        {"links": []},  # no value
        "just a string",
    ],
)
@pytest.mark.parametrize("where", [0, 2, 4])
def test_batch_is_atomic_a_bad_doc_anywhere_writes_nothing(
    log: Log, log_path: Path, snapshot: Snapshot, bad_doc: object, where: int
) -> None:
    log.add("already here")
    before = snapshot(log_path)
    version = log.info()["version"]
    docs: list[object] = [{"value": f"good {i}"} for i in range(4)]
    docs.insert(where, bad_doc)
    with pytest.raises(hyperframe.HyperframeError):
        log.batch(docs)  # type: ignore[arg-type]
    assert snapshot(log_path) == before
    reopened = hyperframe.open(log_path)
    assert reopened.info()["version"] == version
    assert values(reopened) == ["already here"]


def test_empty_batch_returns_nothing_and_writes_nothing(log: Log, log_path: Path) -> None:
    assert log.batch([]) == []
    assert not log_path.exists()


def test_batch_accepts_any_iterable_of_docs(log: Log) -> None:
    nodes = log.batch({"value": str(i)} for i in range(3))
    assert [n.value for n in nodes] == ["0", "1", "2"]


# --- get --------------------------------------------------------------------------------


def test_get_by_full_key_and_by_unique_prefix(log: Log) -> None:
    log.add("hello")
    log.add("world", links=[HELLO])
    assert log.get(WORLD) == Node(WORLD, (HELLO,), "world", 2)
    assert log.get("5f5e").key == WORLD
    assert log.get("8C7E").key == HELLO
    assert log.get("8").key == HELLO


def test_get_unknown_key_or_prefix(log: Log) -> None:
    log.add("hello")
    for missing in [ABSENT, "ab", "a"]:
        with pytest.raises(hyperframe.NodeNotFoundError) as info:
            log.get(missing)
        assert info.value.key == missing
        assert isinstance(info.value, KeyError)


def test_get_with_a_bad_prefix_is_a_usage_error(log: Log) -> None:
    log.add("hello")
    with pytest.raises(hyperframe.UsageError):
        log.get("xyz")
    with pytest.raises(hyperframe.UsageError):
        log.get("")


def _two_sharing_a_prefix(width: int) -> tuple[str, str]:
    """Two values whose keys share their first ``width`` hex characters."""
    seen: dict[str, str] = {}
    i = 0
    while True:
        value = f"value {i}"
        prefix = hyperframe.node_key(value.encode(), [])[:width]
        if prefix in seen:
            return seen[prefix], value
        seen[prefix] = value
        i += 1


@pytest.mark.parametrize("width", [1, 2, 3])
def test_get_with_an_ambiguous_prefix(log: Log, width: int) -> None:
    a, b = _two_sharing_a_prefix(width)
    ka, kb = log.add(a).key, log.add(b).key
    assert ka[:width] == kb[:width]
    with pytest.raises(hyperframe.AmbiguousKeyError, match="more characters") as info:
        log.get(ka[:width])
    assert info.value.key == ka[:width]
    # a longer prefix, or the whole key, picks one out
    common = next(i for i in range(64) if ka[i] != kb[i])
    assert log.get(ka[: common + 1]).value == a
    assert log.get(kb).value == b


def test_get_finds_prefixes_across_segments(log: Log) -> None:
    keys = [log.add(f"n{i}").key for i in range(10)]
    assert log.info()["segments"] > 1
    for i, key in enumerate(keys):
        assert log.get(key[:10]).value == f"n{i}"


# --- heads, changes, len, in -------------------------------------------------------------


def test_heads_are_ascending_and_follow_links(log: Log) -> None:
    a, b, c = (log.add(v) for v in "abc")
    assert log.heads() == sorted([a.key, b.key, c.key])
    d = log.add("d", links=[a.key, b.key])
    assert log.heads() == sorted([c.key, d.key])


@pytest.fixture
def ten(log: Log) -> Log:
    log.batch([{"value": f"v{i}"} for i in range(1, 6)])
    log.batch([{"value": f"v{i}"} for i in range(6, 11)])
    return log


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, list(range(1, 11))),
        ({"since": 3}, list(range(4, 11))),
        ({"until": 5}, [1, 2, 3, 4]),  # hyperlog's until: changes before 5
        ({"since": 3, "until": 8}, [4, 5, 6, 7]),
        ({"since": 4, "until": 7}, [5, 6]),  # spans both segments
        ({"limit": 3}, [1, 2, 3]),
        ({"since": 8, "limit": 5}, [9, 10]),
        ({"reverse": True}, list(range(10, 0, -1))),
        ({"reverse": True, "limit": 3}, [10, 9, 8]),
        ({"since": 2, "until": 9, "reverse": True, "limit": 4}, [8, 7, 6, 5]),
        ({"since": 10}, []),
        ({"since": 50}, []),
        ({"until": 0}, []),
        ({"until": 1}, []),
        ({"since": 7, "until": 3}, []),
        ({"limit": 0}, []),
        ({"until": 99}, list(range(1, 11))),
    ],
)
def test_changes_since_until_limit_reverse(ten: Log, kwargs: dict[str, object], expected: list[int]) -> None:
    nodes = list(ten.changes(**kwargs))  # type: ignore[arg-type]
    assert [n.change for n in nodes] == expected
    assert [n.value for n in nodes] == [f"v{i}" for i in expected]


def test_changes_refuses_a_negative_limit(ten: Log) -> None:
    with pytest.raises(hyperframe.UsageError):
        ten.changes(limit=-1)


def test_iterating_a_log_gives_its_changes(ten: Log) -> None:
    assert [n.value for n in ten] == [f"v{i}" for i in range(1, 11)]


def test_len_and_contains(log: Log) -> None:
    assert len(log) == 0
    log.add("hello")
    log.add("world", links=[HELLO])
    assert len(log) == 2
    assert HELLO in log and WORLD in log
    assert HELLO.upper() in log
    assert ABSENT not in log
    assert HELLO[:10] not in log  # a prefix is not a key
    assert "z" * 64 not in log
    assert 42 not in log


def test_another_handle_sees_new_writes(log: Log, log_path: Path) -> None:
    reader = hyperframe.open(log_path)
    log.add("hello")
    assert len(reader) == 1 and HELLO in reader
    log.add("world", links=[HELLO])
    assert reader.heads() == [WORLD]
    assert reader.get("5f5e").value == "world"


# --- graph ------------------------------------------------------------------------------


def test_graph_is_a_digraph_with_edges_from_link_to_node(log: Log) -> None:
    a = log.add("a")
    b = log.add("b", links=[a.key])
    c = log.add("c")
    m = log.append("m")
    g = log.graph
    assert isinstance(g, nx.DiGraph)
    assert set(g.nodes) == {a.key, b.key, c.key, m.key}
    assert set(g.edges) == {(a.key, b.key), (b.key, m.key), (c.key, m.key)}
    assert nx.ancestors(g, m.key) == {a.key, b.key, c.key}
    assert nx.ancestors(g, b.key) == {a.key}
    assert nx.descendants(g, a.key) == {b.key, m.key}
    assert [g.nodes[k]["change"] for k in (a.key, b.key, c.key, m.key)] == [1, 2, 3, 4]
    assert nx.is_directed_acyclic_graph(g)


def test_graph_follows_new_writes(log: Log) -> None:
    log.add("hello")
    assert log.graph.number_of_nodes() == 1
    log.add("world", links=[HELLO])
    assert set(log.graph.edges) == {(HELLO, WORLD)}


# --- encodings fixed at creation ------------------------------------------------------------


def test_encoding_is_fixed_when_the_log_is_created(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    hyperframe.open(path, encoding="json").add({"msg": "hello"})
    reopened = hyperframe.open(path)
    assert reopened.encoding.name == "json"
    assert reopened.get("e7fd9c7e61e1").value == {"msg": "hello"}
    assert hyperframe.open(path, encoding="json").encoding.name == "json"
    for other in ["utf-8", "binary"]:
        with pytest.raises(hyperframe.UsageError, match="stores json"):
            hyperframe.open(path, encoding=other)


def test_utf8_log_refuses_to_open_as_json(log: Log, log_path: Path) -> None:
    log.add("hello")
    with pytest.raises(hyperframe.UsageError):
        hyperframe.open(log_path, encoding="json")


def test_unknown_encoding_name(log_path: Path) -> None:
    with pytest.raises(hyperframe.UsageError, match="unknown encoding"):
        hyperframe.open(log_path, encoding="latin-1")


def test_a_handle_opened_before_the_log_existed_uses_the_encoding_it_was_created_with(log_path: Path) -> None:
    # Two handles on a path with no log yet: one asks for JSON, the other creates the
    # log as UTF-8. The JSON handle must not then write JSON bytes into the UTF-8 log.
    as_json = hyperframe.open(log_path, encoding="json")
    hyperframe.open(log_path).add("plain text")
    with pytest.raises(hyperframe.HyperframeError):
        as_json.add({"k": 1})
    assert values(hyperframe.open(log_path)) == ["plain text"]


# --- info, read-only --------------------------------------------------------------------------


def test_info_summarizes_the_log(log: Log) -> None:
    log.add("hello")
    log.add("world", links=[HELLO])
    log.add("other")
    facts = log.info()
    assert facts["path"] == str(log.path)
    assert facts["encoding"] == "utf-8"
    assert facts["nodes"] == 3
    assert facts["heads"] == 2
    assert facts["segments"] == 3
    assert facts["bytes"] == sum(p.stat().st_size for p in log.path.glob("seg-*.parquet"))
    assert isinstance(facts["version"], int)
    assert len(facts["fingerprint"]) == 64


def test_info_of_a_log_not_yet_written(log: Log) -> None:
    facts = log.info()
    assert facts["nodes"] == 0 and facts["segments"] == 0 and facts["version"] is None


def test_read_only_log_refuses_writes(log: Log, log_path: Path, snapshot: Snapshot) -> None:
    log.add("hello")
    before = snapshot(log_path)
    ro = hyperframe.open(log_path, read_only=True)
    assert ro.get("8c7e").value == "hello"
    with pytest.raises(hyperframe.ReadOnlyLogError):
        ro.add("x")
    with pytest.raises(hyperframe.ReadOnlyLogError):
        ro.compact()
    assert snapshot(log_path) == before


# --- the package surface --------------------------------------------------------------------


def test_every_error_has_one_root() -> None:
    errors = [getattr(hyperframe, name) for name in hyperframe.__all__ if name.endswith("Error")]
    assert len(errors) > 5
    assert all(issubclass(e, hyperframe.HyperframeError) for e in errors)


def test_all_is_sorted() -> None:
    assert list(hyperframe.__all__) == sorted(hyperframe.__all__)


def test_every_name_in_all_can_be_imported() -> None:
    missing = []
    for name in hyperframe.__all__:
        try:
            getattr(hyperframe, name)
        except (AttributeError, ImportError):
            missing.append(name)
    assert missing == []


def test_node_to_dict_is_json_ready() -> None:
    assert Node("ab" * 32, ("cd" * 32,), "v", 3).to_dict() == {
        "key": "ab" * 32,
        "links": ["cd" * 32],
        "change": 3,
        "value": "v",
    }
    assert Node("ab" * 32, (), b"\x00\xff", 1).to_dict()["value_base64"] == "AP8="
