"""Saves at the same time in one server process (gunicorn's threads): each request works on its
own objects, and a save the database refuses answers 409 naming the record, in French.

The load test (benchmarks/load_test.py) found three symptoms of one cause: FAB keeps ONE
marshmallow-sqlalchemy schema per API, and its ``load`` holds the record being updated on that
shared schema while it runs. Two saves at once updated each other's record (« Object Operateur
is already attached to session », unique violations, autoflush errors).
"""
from __future__ import annotations

import functools
import threading

from tests.conftest import client_for


def _api(app, name: str):
    return next(v for v in app.appbuilder.baseviews if type(v).__name__ == name)


def _two_structures(client) -> list[dict]:
    ids = client.get("/api/v1/structure/?q=(columns:!(id),page_size:2)").get_json()["ids"]
    return [client.get(f"/api/v1/structure/{pk}").get_json()["result"] | {"id": pk} for pk in ids]


def test_two_saves_at_once_each_update_their_own_record(fresh_app, monkeypatch):
    """Both requests are inside the schema's ``load`` at the same moment (a barrier in its
    ``make_instance``): each record gets its own new name, both answers are 200."""
    clients = [client_for(fresh_app, "admin") for _ in range(2)]
    first, second = _two_structures(clients[0])
    schema_class = type(_api(fresh_app, "StructureApi").edit_model_schema)
    barrier = threading.Barrier(2, timeout=10)
    original = schema_class.make_instance

    @functools.wraps(original)
    def make_instance(self, data, **kwargs):
        if threading.current_thread().name.startswith("put-"):
            barrier.wait()   # both loads have started: a shared schema now holds the other's record
        return original(self, data, **kwargs)

    monkeypatch.setattr(schema_class, "make_instance", make_instance)
    answers: dict[int, tuple[int, str]] = {}

    def save(client, row):
        response = client.put(f"/api/v1/structure/{row['id']}",
                              json={"nom": f"Concurrente {row['id']}", "version": row["version"]})
        answers[row["id"]] = (response.status_code, response.get_data(as_text=True)[:300])

    threads = [threading.Thread(target=save, args=(c, row), name=f"put-{i}")
               for i, (c, row) in enumerate(zip(clients, (first, second)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [answers[r["id"]][0] for r in (first, second)] == [200, 200], answers
    for row in (first, second):
        stored = clients[0].get(f"/api/v1/structure/{row['id']}").get_json()["result"]
        assert stored["nom"] == f"Concurrente {row['id']}"
        assert stored["code_dna"] == row["code_dna"]   # nothing of the other record


def test_each_thread_loads_with_its_own_schema(app):
    api = _api(app, "StructureApi")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(api._loader("edit")))
    thread.start()
    thread.join()
    assert seen[0] is not api._loader("edit")
    assert seen[0] is not api.edit_model_schema and api._loader("edit") is api._loader("edit")


def test_many_concurrent_saves_without_error(fresh_app):
    """Eight agents saving their own structures at once, a few times each: no error."""
    clients = [client_for(fresh_app, "admin") for _ in range(8)]
    ids = clients[0].get("/api/v1/structure/?q=(columns:!(id),page_size:8)").get_json()["ids"]
    errors: list[str] = []

    def agent(client, pk):
        for n in range(4):
            row = client.get(f"/api/v1/structure/{pk}").get_json()["result"]
            response = client.put(f"/api/v1/structure/{pk}",
                                  json={"nom": f"Agent {pk} tour {n}", "version": row["version"]})
            if response.status_code != 200:
                errors.append(f"{pk}: {response.status_code} {response.get_data(as_text=True)[:200]}")

    threads = [threading.Thread(target=agent, args=(c, pk)) for c, pk in zip(clients, ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    for pk in ids:
        assert clients[0].get(f"/api/v1/structure/{pk}").get_json()["result"]["nom"] == f"Agent {pk} tour 3"


def test_a_save_the_database_refuses_as_duplicate_is_a_409_naming_the_record(fresh_app):
    client = client_for(fresh_app, "admin")
    first, second = _two_structures(client)
    response = client.put(f"/api/v1/structure/{second['id']}",
                          json={"code_dna": first["code_dna"], "version": second["version"]})
    assert response.status_code == 409, response.get_data(as_text=True)
    message = response.get_json()["message"]
    assert "Enregistrement refusé" in message
    assert first["code_dna"] in message


def test_the_load_test_lists_use_arguments_the_list_honours():
    """benchmarks/load_test.py measures real filters, sorts and page sizes, not ignored ones."""
    from benchmarks.load_test import PAGES, ignored_arguments

    lists = [p for p in PAGES if p.startswith("/structureview/list/")]
    assert len(lists) >= 5
    assert {p: ignored_arguments(p) for p in lists} == {p: [] for p in lists}
    assert ignored_arguments("/structureview/list/?psize_StructureView=100&dir=up") == [
        "psize_StructureView=100", "dir=up"]
