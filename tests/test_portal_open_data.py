"""/open-data: the first visit starts a cut in the background and says so; then the page
lists every file with its rows and digest, each served as what it is; a name that is not
in the cut is a 404; no person in any file served."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from portal_site import Site, check_structure, site

from trustledger.portal.server import create_server


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from site(tmp_path_factory)


def test_open_data_is_cut_in_the_background_and_served(
    portal: Site, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = dataclasses.replace(portal.settings,
                                   open_data_dir=tmp_path_factory.mktemp("open-data"))  # fmt: skip
    with TestClient(create_server(settings, reload_interval=0.0)) as client:
        first = client.get("/open-data")
        assert first.status_code == 200
        assert client.get("/open-data/files/manifest.json").status_code in (200, 404)
        deadline = time.monotonic() + 120
        while "Cut at ledger size" not in (page := client.get("/open-data").text):
            assert time.monotonic() < deadline, "no cut within two minutes"
            time.sleep(0.5)
        check_structure(page)
        manifest = client.get("/open-data/files/manifest.json")
        assert manifest.status_code == 200
        listed = json.loads(manifest.content)
        with portal.context() as ctx:
            persons = [r[0] for r in ctx.store.query(
                "SELECT id FROM subjects WHERE kind = 'person'", ())]  # fmt: skip
            size = ctx.store.head().size
        assert str(size) in json.dumps(listed)  # the tree head it was cut from
        names = {f["name"] for f in listed["files"]}
        assert {"entities.ftm.json", "records.parquet", "organisations.csv"} <= names
        for entry in listed["files"]:
            served = client.get(f"/open-data/files/{entry['name']}")
            assert served.status_code == 200, entry["name"]
            assert hashlib.sha256(served.content).hexdigest() == entry["sha256"]
            assert entry["name"] in page
            assert not any(p.encode() in served.content for p in persons), entry["name"]
        assert client.get("/open-data/files/secrets.csv").status_code == 404
        assert client.get("/open-data/files/..%2Fdemo.db").status_code == 404
