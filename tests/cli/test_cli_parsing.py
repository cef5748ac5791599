"""dxltie without a broker: argument parsing, trust levels and file types, hashes and hashing."""

from __future__ import annotations

import hashlib
import os

import pytest

from dxltieclient import FileType, InvalidHashError, TrustLevel, get_version
from dxltieclient.cli import main
from dxltieclient.cli.args import build_parser, parse_file_type, parse_trust_level
from dxltieclient.cli.errors import CliError
from dxltieclient.cli.hashing import hash_file, infer_hash_type, parse_hashes, resolve_target

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
SHA256 = "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"


@pytest.mark.parametrize("text, expected", [
    ("known_malicious", TrustLevel.KNOWN_MALICIOUS), ("KNOWN_TRUSTED", TrustLevel.KNOWN_TRUSTED),
    ("Most-Likely-Trusted", TrustLevel.MOST_LIKELY_TRUSTED), (" 99 ", 99), ("0", 0),
    ("not_set", TrustLevel.NOT_SET), ("100", TrustLevel.KNOWN_TRUSTED_INSTALLER)])
def test_trust_levels_by_name_or_number(text: str, expected: int) -> None:
    assert parse_trust_level(text) == expected


@pytest.mark.parametrize("text", ["98", "trusted", "", "1.0", "-1", "KNOWN"])
def test_unknown_trust_levels_are_refused_with_the_list_of_names(text: str) -> None:
    with pytest.raises(ValueError, match="KNOWN_MALICIOUS \\(1\\)"):
        parse_trust_level(text)


def test_file_types_by_name_or_number() -> None:
    assert parse_file_type("peexe") == FileType.PEEXE == 18
    assert parse_file_type("4328554496") == FileType.JAR
    with pytest.raises(ValueError, match="FileType"):
        parse_file_type("exe2")


def test_parser_reads_every_command() -> None:
    parser = build_parser()
    args = parser.parse_args(["--config", "c", "--timeout", "2.5", "set-reputation", "--trust",
                              "known_malicious", MD5, "--external", "--file-type", "dll",
                              "--filename", "x.dll", "--comment", "feed"])
    assert (args.command, args.config, args.timeout, args.trust, args.external, args.file_type,
            args.filename, args.comment, args.target) == (
        "set-reputation", "c", 2.5, 1, True, FileType.DLL, "x.dll", "feed", MD5)
    assert parser.parse_args(["reputation", MD5, SHA1, "--json"]).targets == [MD5, SHA1]
    assert parser.parse_args(["references", MD5, "--limit", "7"]).limit == 7
    args = parser.parse_args(["cert-reputation", SHA1, "--public-key-sha1", SHA1])
    assert args.public_key_sha1 == SHA1
    args = parser.parse_args(["import", "f.csv", "--external", "--failed-file", "x"])
    assert (args.file, args.external, args.failed_file) == ("f.csv", True, "x")
    args = parser.parse_args(["listen", "--detections"])
    assert (args.detections, args.reputation_changes, args.first_instances) == (
        True, False, False)


@pytest.mark.parametrize("argv", [
    ["set-reputation", "--trust", "very_good", MD5], ["set-reputation", MD5],
    ["references", MD5, "--limit", "0"], ["--timeout", "-1", "reputation", MD5],
    ["reputation"], ["frobnicate"], []])
def test_usage_errors_exit_2(argv: list, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_lists_exit_codes_and_returns_0(capsys: pytest.CaptureFixture) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out and "5  no TIE service" in out
    assert main(["import", "--help"]) == 0
    assert "failed" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture) -> None:
    assert main(["--version"]) == 0
    assert get_version() in capsys.readouterr().out


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 100_000])
def test_hash_file_matches_hashlib(tmp_path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert hash_file(str(path), chunk_size=4096) == {
        "md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest()}


def test_hash_types_are_inferred_from_length() -> None:
    assert [infer_hash_type(value) for value in (MD5, SHA1, SHA256)] == ["md5", "sha1", "sha256"]
    assert parse_hashes(MD5.upper()) == {"md5": MD5}
    assert parse_hashes("SHA1:" + SHA1) == {"sha1": SHA1}
    assert parse_hashes("md5:{},sha256:{}".format(MD5, SHA256)) == {"md5": MD5,
                                                                    "sha256": SHA256}
    assert parse_hashes("{},{}".format(MD5, SHA1)) == {"md5": MD5, "sha1": SHA1}


@pytest.mark.parametrize("text, message", [
    (MD5[:-1], "31 hexadecimal digits"), (MD5[:-1] + "g", "hexadecimal digits only"),
    ("sha1:" + MD5, "expected 40"), ("crc32:" + MD5, "Unknown hash type"),
    ("{},{}".format(MD5, MD5), "given twice"), ("md5:", "expected 32")])
def test_bad_hashes_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidHashError, match=message):
        parse_hashes(text)


def test_resolve_target_hashes_files_and_validates_hashes(tmp_path) -> None:
    path = tmp_path / MD5  # a file whose name looks like a hash
    path.write_bytes(b"abc")
    target = resolve_target(str(path))
    assert target.path == str(path) and target.hashes["md5"] == hashlib.md5(b"abc").hexdigest()
    assert resolve_target("md5:" + MD5).hashes == {"md5": MD5}
    assert resolve_target(SHA256).path is None
    for bad in (str(tmp_path), str(tmp_path / "missing.exe"), MD5[:10]):
        with pytest.raises(CliError) as caught:
            resolve_target(bad)
        assert caught.value.exit_code == 2


def test_unreadable_file_is_a_usage_error(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.exe"
    path.write_bytes(b"x")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("dxltieclient.cli.hashing.hash_file", refuse)
    with pytest.raises(CliError, match="cannot read .*secret.exe: Permission denied") as caught:
        resolve_target(str(path))
    assert caught.value.exit_code == 2
