"""The TIE emulator's SQLite store: lookup by any hash, merging, references, persistence."""

from __future__ import annotations

import pytest

from dxltieclient.constants import (
    CertEnterpriseAttrib,
    CertProvider,
    FileEnterpriseAttrib,
    FileProvider,
    TrustLevel,
)
from dxltieclient.sandbox.tie.seed import (
    EICAR_HASHES,
    EXAMPLE_CERT_PUBLIC_KEY_SHA1,
    EXAMPLE_CERT_SHA1,
    NOTEPAD_HASHES,
    SEED_AGENTS,
)
from dxltieclient.sandbox.tie.store import Store, read_counts

from .helpers import START, Clock, dump

MD5 = "0123456789abcdef0123456789abcdef"
SHA1 = "0123456789abcdef0123456789abcdef01234567"
SHA256 = "0123456789abcdef" * 4


def test_a_new_store_has_the_schema_and_nothing_else(tmp_path) -> None:
    store = Store(str(tmp_path / "sub" / "new.sqlite"))
    try:
        assert store.counts() == {"files": 0, "certificates": 0, "references": 0, "agents": 0}
        tables = set(dump(store.path))
        assert {"files", "certificates", "file_reputations", "cert_reputations",
                "file_references", "cert_references", "agents", "meta"} <= tables
    finally:
        store.close()


def test_counts_of_the_seeded_store(store: Store) -> None:
    # notepad and EICAR; the example certificate; 3 notepad + 1 EICAR + 3 certificate refs
    assert store.counts() == {"files": 2, "certificates": 1, "references": 7,
                              "agents": len(SEED_AGENTS) + 1}


@pytest.mark.parametrize("hash_type", ["md5", "sha1", "sha256"])
def test_a_file_is_found_by_any_one_of_its_hashes(store: Store, hash_type: str) -> None:
    whole = store.find_file(NOTEPAD_HASHES)
    assert whole is not None
    assert store.find_file({hash_type: NOTEPAD_HASHES[hash_type]}) == whole
    assert store.find_file({hash_type: EICAR_HASHES[hash_type]}) != whole


def test_an_unknown_file_is_not_found(store: Store) -> None:
    assert store.find_file({"md5": MD5}) is None
    assert store.find_file({}) is None


def test_hashes_learned_later_are_merged(store: Store) -> None:
    file_id = store.add_file({"md5": MD5})
    store.merge_file_hashes(file_id, {"md5": MD5, "sha1": SHA1})
    store.merge_file_hashes(file_id, {"sha256": SHA256})
    assert store.file_hashes(file_id) == {"md5": MD5, "sha1": SHA1, "sha256": SHA256}
    assert store.find_file({"sha256": SHA256}) == file_id


def test_a_known_hash_is_never_overwritten_nor_stolen(store: Store) -> None:
    file_id = store.add_file({"md5": MD5})
    notepad = store.find_file(NOTEPAD_HASHES)
    # a different md5 for the same file, and notepad's sha1 which belongs to another file
    store.merge_file_hashes(file_id, {"md5": "f" * 32, "sha1": NOTEPAD_HASHES["sha1"]})
    assert store.file_hashes(file_id) == {"md5": MD5}
    assert store.find_file({"sha1": NOTEPAD_HASHES["sha1"]}) == notepad


def test_contradictory_hashes_pick_the_oldest_file(store: Store) -> None:
    notepad = store.find_file(NOTEPAD_HASHES)
    eicar = store.find_file(EICAR_HASHES)
    assert notepad is not None and eicar is not None
    assert store.find_file({"md5": EICAR_HASHES["md5"],
                            "sha1": NOTEPAD_HASHES["sha1"]}) == min(notepad, eicar)


def test_file_reputations_are_ordered_by_provider_with_computed_attributes(
        store: Store) -> None:
    file_id = store.add_file({"md5": MD5})
    store.put_file_reputation(file_id, FileProvider.EXTERNAL, 70, 5, {})
    store.put_file_reputation(file_id, FileProvider.ENTERPRISE, 0, 4,
                              {FileEnterpriseAttrib.FIRST_CONTACT: "4"})
    store.put_file_reputation(file_id, FileProvider.GTI, 50, 3, {})
    reputations = store.file_reputations(file_id)
    assert [rep["providerId"] for rep in reputations] == [1, 3, 15]
    enterprise = reputations[1]
    assert enterprise == {"providerId": 3, "trustLevel": 0, "createDate": 4, "attributes": {
        FileEnterpriseAttrib.FIRST_CONTACT: "4", FileEnterpriseAttrib.PREVALENCE: "0",
        FileEnterpriseAttrib.ENTERPRISE_SIZE: str(store.counts()["agents"])}}
    store.add_file_reference(file_id, "{a}", 10)
    store.add_file_reference(file_id, "{b}", 11)
    enterprise = store.file_reputations(file_id)[1]
    assert enterprise["attributes"][FileEnterpriseAttrib.PREVALENCE] == "2"


def test_putting_a_reputation_replaces_it(store: Store) -> None:
    file_id = store.add_file({"md5": MD5})
    store.put_file_reputation(file_id, FileProvider.ENTERPRISE, 0, 1, {"1": "a"})
    store.put_file_reputation(file_id, FileProvider.ENTERPRISE, 99, 2, {"1": "b"})
    assert store.file_reputation(file_id, FileProvider.ENTERPRISE) == {
        "providerId": 3, "trustLevel": 99, "createDate": 2, "attributes": {"1": "b"}}
    assert store.file_reputation(file_id, FileProvider.ATD) is None


def test_only_the_first_reference_of_a_system_counts(store: Store) -> None:
    file_id = store.add_file({"md5": MD5})
    assert store.add_file_reference(file_id, "{a}", 100) is True
    assert store.add_file_reference(file_id, "{a}", 200) is False
    assert store.file_references(file_id, 10) == (1, [{"agentGuid": "{a}", "date": 100}])


def test_references_are_ordered_by_first_reference_and_limited(store: Store) -> None:
    file_id = store.add_file({"md5": MD5})
    store.add_file_reference(file_id, "{late}", 300)
    store.add_file_reference(file_id, "{early}", 100)
    store.add_file_reference(file_id, "{same-second-1}", 200)
    store.add_file_reference(file_id, "{same-second-2}", 200)
    total, agents = store.file_references(file_id, 3)
    assert total == 4
    assert [agent["agentGuid"] for agent in agents] == [
        "{early}", "{same-second-1}", "{same-second-2}"]


def test_references_count_distinct_agents(store: Store) -> None:
    before = store.counts()
    file_id = store.add_file({"md5": MD5})
    store.add_file_reference(file_id, "{new-agent}", 1)
    cert_id = store.find_certificate(EXAMPLE_CERT_SHA1)
    assert cert_id is not None
    store.add_cert_reference(cert_id, "{new-agent}", 2)
    after = store.counts()
    assert after["agents"] == before["agents"] + 1
    assert after["references"] == before["references"] + 2
    assert after["files"] == before["files"] + 1


def test_certificates_by_sha1_and_public_key_learned_later(store: Store) -> None:
    cert_id = store.add_certificate(SHA1)
    assert store.find_certificate(SHA1) == cert_id
    assert store.certificate_hashes(cert_id) == (SHA1, None)
    store.set_certificate_public_key(cert_id, "a" * 40)
    store.set_certificate_public_key(cert_id, "b" * 40)  # a known key is kept
    assert store.certificate_hashes(cert_id) == (SHA1, "a" * 40)
    with pytest.raises(KeyError):
        store.certificate_hashes(cert_id + 100)


def test_certificate_overridden_files_inside_the_enterprise_reputation(store: Store) -> None:
    cert_id = store.find_certificate(EXAMPLE_CERT_SHA1)
    assert cert_id is not None
    enterprise = store.cert_reputations(cert_id)[1]
    assert enterprise["providerId"] == CertProvider.ENTERPRISE
    assert "overridden" not in enterprise
    assert enterprise["attributes"][CertEnterpriseAttrib.HAS_FILE_OVERRIDES] == "0"
    assert enterprise["attributes"][CertEnterpriseAttrib.PREVALENCE] == str(len(SEED_AGENTS))
    notepad = store.find_file(NOTEPAD_HASHES)
    assert notepad is not None
    store.put_file_reputation(notepad, FileProvider.ENTERPRISE, TrustLevel.KNOWN_TRUSTED, 1, {})
    enterprise = store.cert_reputations(cert_id)[1]
    assert enterprise["attributes"][CertEnterpriseAttrib.HAS_FILE_OVERRIDES] == "1"
    assert enterprise["overridden"] == {"truncated": 0, "files": [{"hashes": NOTEPAD_HASHES}]}


def test_a_failed_transaction_changes_nothing(store: Store) -> None:
    before = dump(store.path)
    notepad = store.find_file(NOTEPAD_HASHES) or 0
    size = store.file_reputations(notepad)[1]["attributes"][FileEnterpriseAttrib.ENTERPRISE_SIZE]
    with pytest.raises(RuntimeError):
        with store.transaction():
            file_id = store.add_file({"md5": MD5})
            with store.transaction():  # nested blocks join the outer transaction
                store.add_file({"sha1": SHA1})
                store.add_file_reference(file_id, "{new-agent}", 1)
            raise RuntimeError("boom")
    assert dump(store.path) == before
    assert store.find_file({"md5": MD5}) is None
    after = store.file_reputations(notepad)[1]["attributes"][FileEnterpriseAttrib.ENTERPRISE_SIZE]
    assert after == size


def test_the_store_survives_a_reopen(store_file: str, clock: Clock) -> None:
    first = Store(store_file, clock=clock)
    file_id = first.add_file({"md5": MD5}, "kept.exe")
    first.put_file_reputation(file_id, FileProvider.ENTERPRISE, 85, START, {"9": "x"})
    first.add_file_reference(file_id, "{a}", START)
    cert_id = first.add_certificate(SHA1, "c" * 40)
    first.put_cert_reputation(cert_id, CertProvider.ENTERPRISE, 15, START, {})
    first.set_meta("k", "v")
    first.close()
    second = Store(store_file, clock=clock)
    try:
        assert second.find_file({"md5": MD5}) == file_id
        assert second.file_name(file_id) == "kept.exe"
        assert second.file_reputation(file_id, FileProvider.ENTERPRISE) == {
            "providerId": 3, "trustLevel": 85, "createDate": START, "attributes": {"9": "x"}}
        assert second.file_references(file_id, 5) == (1, [{"agentGuid": "{a}", "date": START}])
        assert second.certificate_hashes(cert_id) == (SHA1, "c" * 40)
        assert second.cert_reputation(cert_id, CertProvider.ENTERPRISE)["trustLevel"] == 15
        assert second.get_meta("k") == "v"
    finally:
        second.close()


def test_the_seeded_certificate_knows_its_public_key(store: Store) -> None:
    cert_id = store.find_certificate(EXAMPLE_CERT_SHA1)
    assert cert_id is not None
    assert store.certificate_hashes(cert_id) == (EXAMPLE_CERT_SHA1, EXAMPLE_CERT_PUBLIC_KEY_SHA1)
    assert store.file_certificate(store.find_file(NOTEPAD_HASHES) or 0) == cert_id


def test_read_counts_matches_the_store_and_writes_nothing(tmp_path) -> None:
    path = str(tmp_path / "tie.sqlite")
    assert read_counts(path) is None
    store = Store(path)
    store.close()
    empty = read_counts(path)
    assert empty == {"files": 0, "certificates": 0, "references": 0, "agents": 0}
    store = Store(path)
    try:
        file_id = store.add_file(dict(NOTEPAD_HASHES))
        store.add_file_reference(file_id, "{agent}", 1)
        counts = store.counts()
    finally:
        store.close()
    assert counts["files"] == 1 and counts["references"] == 1
    assert read_counts(path) == counts
