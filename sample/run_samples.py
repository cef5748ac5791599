"""
Runs every sample against the local sandbox and checks what it prints.

    python3 sample/run_samples.py

(``bash sample/run_samples.sh`` installs what is missing, then runs this.)

It brings a sandbox up (a local DXL fabric on Mosquitto with a TIE emulator) in a temporary
folder, on a free port, and writes its client configuration to ``sample/dxlclient.config`` (the
template found there is put back at the end). Then it runs each sample in its own process, with a
time limit: the ones that finish are checked when they exit; the three callback samples, which
wait for events forever, are started, sent the matching events once they print their "Waiting
for ..." line, checked once their output shows the events, and stopped. Each sample's output is
printed under a header, followed by the summary line ``samples: N passed, M failed``. The sandbox
is brought down whatever happens; the exit status is 1 when a sample failed.
"""

import argparse
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import (
    CertProvider,
    FileProvider,
    HashType,
    ReputationProp,
    TieClient,
    TrustLevel,
)
from dxltieclient.client import (
    TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC,
    TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC,
    TIE_EVENT_FILE_DETECTION_TOPIC,
    TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC,
    TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
)
from dxltieclient.sandbox import Sandbox

SAMPLE_DIR = os.path.dirname(os.path.abspath(__file__))
CONFIG_FILE = os.path.join(SAMPLE_DIR, "dxlclient.config")

#: Seconds a sample that finishes may run.
RUN_TIMEOUT = 90.0
#: Seconds a callback sample may take to print its "Waiting for ..." line.
READY_TIMEOUT = 60.0
#: Seconds a callback sample may take to print the events sent to it.
EVENT_TIMEOUT = 30.0
#: Seconds a stopped callback sample may take to exit.
STOP_TIMEOUT = 10.0

NOTEPAD_HASHES = {
    HashType.MD5: "f2c7bb8acc97f92e987a2d4087d021b1",
    HashType.SHA1: "7eb0139d2175739b3ccb0d1110067820be6abd29",
    HashType.SHA256: "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2",
}
CERT_SHA1 = "6EAE26DB8C13182A7947982991B4321732CC3DE2"
CERT_PUBLIC_KEY_SHA1 = "3B87A2D6F39770160364B79A152FCC73BAE27ADF"

FILE_REP_CHANGE_TOPIC = TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC
CERT_REP_CHANGE_TOPIC = TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC
DETECTION_TOPIC = TIE_EVENT_FILE_DETECTION_TOPIC
FIRST_INSTANCE_TOPIC = TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC

DETECTION_AGENT = "{68125cd6-a5d8-11e6-348e-000c29663178}"
FIRST_INSTANCE_AGENT = "{3a35dc8e-a5d8-11e6-1b4c-000c29ae5c12}"


def sample_environment():
    """
    The samples' environment: this one without PYTHONUNBUFFERED, so that a callback sample's
    events show through the pipe only if the sample flushes its output itself, as it must.
    """
    return {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


class SampleFailure(Exception):
    """A sample did not print what it should have: ``SampleFailure(reason, output_lines)``."""

    def __init__(self, reason, lines=()):
        super().__init__(reason)
        self.reason = reason
        self.lines = lines if isinstance(lines, list) else list(lines)


# -- checks of the samples that finish ----------------------------------------------------------


def json_after(lines, header):
    """Parses the pretty JSON printed on the lines after ``header`` (up to the closing brace)."""
    if header not in lines:
        raise SampleFailure("missing line: " + repr(header))
    start = lines.index(header) + 1
    for end in range(start, len(lines)):
        if lines[end] == "}" or (end == start and lines[end] == "{}"):
            return json.loads("\n".join(lines[start:end + 1]))
    raise SampleFailure("no JSON object after " + repr(header))


def require(condition, message):
    if not condition:
        raise SampleFailure(message)


def check_get_reputation(lines):
    notepad = json_after(lines, "Notepad.exe reputations:")
    require(notepad.get("1", {}).get("trustLevel") == TrustLevel.KNOWN_TRUSTED,
            "notepad.exe has no GTI (provider 1) reputation with trust level 99")
    require("3" in notepad, "notepad.exe has no enterprise (provider 3) reputation")
    eicar = json_after(lines, "EICAR reputations:")
    require("1" in eicar, "EICAR has no GTI (provider 1) reputation")


def check_set_reputation(lines):
    require("Succeeded." in lines, "missing line: 'Succeeded.'")


def check_set_external_reputation(lines):
    require("Event Sent" in lines, "missing line: 'Event Sent'")


def check_first_references(lines):
    require("Systems that have referenced the file:" in lines,
            "missing line: 'Systems that have referenced the file:'")
    systems = [line for line in lines if line.startswith("\t{") and "}: " in line]
    require(systems, "no system listed")


def check_advanced_get_reputation(lines):
    require("\tGlobal Threat Intelligence (GTI) trust level: 99" in lines,
            "missing the file's GTI trust level line")
    require(any(line.startswith("\tFirst contact: ") for line in lines),
            "missing the first contact line")
    file_reputations = json_after(lines, "Full file reputation response:")
    require("1" in file_reputations and "3" in file_reputations,
            "the file lacks its GTI or enterprise reputation")
    require("Certificate reputation response:" in lines,
            "missing line: 'Certificate reputation response:'")
    cert_reputations = json_after(lines, "Full certificate reputation response:")
    require("2" in cert_reputations and "4" in cert_reputations,
            "the certificate lacks its GTI or enterprise reputation")


def check_reputation_updates(lines):
    require(any(line.startswith("Reputation updates since ") for line in lines),
            "missing the 'Reputation updates since ...' line")
    pages = [line for line in lines if line.startswith("Pages: ")]
    require(pages and int(pages[-1].split(": ")[1]) >= 1, "missing the 'Pages: N' line")


def check_update_metadata(lines):
    require(lines == ["File metadata sent.", "Certificate metadata sent."],
            "expected the two 'metadata sent.' lines")


# -- triggers of the callback samples -----------------------------------------------------------


def _another_trust_level(reputations, provider):
    """A trust level different from the provider's current one, so that setting it is a change."""
    current = reputations.get(provider, {}).get(ReputationProp.TRUST_LEVEL)
    if current == TrustLevel.KNOWN_TRUSTED:
        return TrustLevel.MOST_LIKELY_TRUSTED
    return TrustLevel.KNOWN_TRUSTED


def change_reputations(sandbox):
    """Changes a file's and a certificate's reputation: TIE announces each change with an event."""
    config = DxlClientConfig.create_dxl_config_from_file(sandbox.config_file)
    with DxlClient(config) as client:
        client.connect()
        tie_client = TieClient(client)
        file_reputations = tie_client.get_file_reputation(NOTEPAD_HASHES)
        tie_client.set_file_reputation(
            _another_trust_level(file_reputations, FileProvider.ENTERPRISE), NOTEPAD_HASHES,
            filename="notepad.exe", comment="run_samples.py")
        cert_reputations = tie_client.get_certificate_reputation(CERT_SHA1, CERT_PUBLIC_KEY_SHA1)
        tie_client.set_certificate_reputation(
            _another_trust_level(cert_reputations, CertProvider.ENTERPRISE), CERT_SHA1,
            CERT_PUBLIC_KEY_SHA1, comment="run_samples.py")


def spread_new_file(sandbox, systems=2):
    """Looks a new file up from ``systems`` DXL clients: TIE announces its growing prevalence."""
    digest = hashlib.sha256(os.urandom(16)).hexdigest()
    config = DxlClientConfig.create_dxl_config_from_file(sandbox.config_file)
    for _ in range(systems):
        with DxlClient(config) as client:  # a new client id each time: a new "system"
            client.connect()
            TieClient(client).get_file_reputation({HashType.SHA256: digest})
        config = DxlClientConfig.create_dxl_config_from_file(sandbox.config_file)


def emit_detection(sandbox):
    sandbox.emit_detection(NOTEPAD_HASHES, DETECTION_AGENT, "notepad.exe",
                           TrustLevel.MOST_LIKELY_MALICIOUS, 5)


def emit_first_instance(sandbox):
    sandbox.emit_first_instance(NOTEPAD_HASHES, FIRST_INSTANCE_AGENT, "notepad.exe")


# -- the samples --------------------------------------------------------------------------------


class Sample:
    """A sample that runs to its end, and the check of its output."""

    def __init__(self, path, check):
        self.path = path
        self.check = check

    def run(self, sandbox, sample_dir=SAMPLE_DIR):
        """
        Runs the sample found in ``sample_dir``; returns its output lines, or raises
        SampleFailure(reason, lines).
        """
        try:
            completed = subprocess.run(
                [sys.executable, os.path.join(sample_dir, self.path)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                timeout=RUN_TIMEOUT, cwd=sample_dir, env=sample_environment())
        except subprocess.TimeoutExpired as expired:
            output = expired.output or b""
            if isinstance(output, bytes):
                output = output.decode("utf-8", "replace")
            raise SampleFailure("still running after {:.0f} s".format(RUN_TIMEOUT),
                                output.splitlines())
        lines = completed.stdout.splitlines()
        try:
            require(completed.returncode == 0, "exit status {}".format(completed.returncode))
            require(not any("Error" in line for line in lines), "'Error' in the output")
            self.check(lines)
        except SampleFailure as failure:
            raise SampleFailure(failure.reason, lines)
        return lines


class CallbackSample:
    """A sample that waits for events: started, sent events, checked, then stopped."""

    def __init__(self, path, trigger, topics):
        self.path = path
        self.trigger = trigger
        self.topic_lines = topics

    def run(self, sandbox, sample_dir=SAMPLE_DIR):
        """
        Starts the sample found in ``sample_dir``, sends it its events once it waits for them, and
        stops it once they show; returns its output lines, or raises SampleFailure(reason, lines).
        """
        process = subprocess.Popen(
            [sys.executable, os.path.join(sample_dir, self.path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=sample_dir,
            env=sample_environment())
        lines = []
        line_queue = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process.stdout, line_queue),
                                  daemon=True)
        reader.start()
        try:
            _wait_for(lambda seen: any(line.startswith("Waiting for ") for line in seen),
                      line_queue, lines, READY_TIMEOUT, "no 'Waiting for ...' line")
            try:
                self.trigger(sandbox)
            except Exception as error:
                raise SampleFailure("sending the events failed: {}: {}".format(
                    type(error).__name__, error))
            _wait_for(self._events_printed, line_queue, lines, EVENT_TIMEOUT,
                      "the events did not show")
            require(not any("Error" in line for line in lines), "'Error' in the output")
        except SampleFailure as failure:
            raise SampleFailure(failure.reason, lines)
        finally:
            _stop(process)
            reader.join(STOP_TIMEOUT)
            _drain(line_queue, lines)
        return lines

    def _events_printed(self, lines):
        """True once every expected topic line was printed, followed by a complete JSON object."""
        for topic_line in self.topic_lines:
            if topic_line not in lines:
                return False
        last = max(lines.index(topic_line) for topic_line in self.topic_lines)
        return "}" in lines[last + 1:]


def _read_lines(stream, line_queue):
    for line in stream:
        line_queue.put(line.rstrip("\n"))
    line_queue.put(None)


def _drain(line_queue, lines):
    while True:
        try:
            line = line_queue.get_nowait()
        except queue.Empty:
            return
        if line is not None:
            lines.append(line)


def _wait_for(condition, line_queue, lines, timeout, message):
    """Collects output lines until ``condition(lines)`` holds; SampleFailure after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition(lines):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SampleFailure("{} within {:.0f} s".format(message, timeout))
        try:
            line = line_queue.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            raise SampleFailure(message + " (the sample exited)")
        lines.append(line)


def _stop(process):
    """Stops a callback sample as Ctrl+C would, then kills it if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)


SAMPLES = [
    Sample("basic/basic_get_reputation_example.py", check_get_reputation),
    Sample("basic/basic_set_reputation_example.py", check_set_reputation),
    Sample("basic/basic_set_external_file_reputation.py", check_set_external_reputation),
    Sample("basic/basic_first_ref_example.py", check_first_references),
    Sample("advanced/advanced_get_reputation_example.py", check_advanced_get_reputation),
    CallbackSample("basic/basic_reputation_change_callback_example.py", change_reputations,
                   ["Reputation change on topic: " + FILE_REP_CHANGE_TOPIC,
                    "Reputation change on topic: " + CERT_REP_CHANGE_TOPIC]),
    CallbackSample("basic/basic_detection_callback_example.py", emit_detection,
                   ["Detection on topic: " + DETECTION_TOPIC]),
    CallbackSample("basic/basic_first_instance_callback.py", emit_first_instance,
                   ["First instance on topic: " + FIRST_INSTANCE_TOPIC]),
    CallbackSample("advanced/advanced_targeted_reputation_change_callback_example.py",
                   change_reputations,
                   ["Targeted reputation change on topic: "
                    + TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC,
                    "Targeted reputation change on topic: "
                    + TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC]),
    CallbackSample("advanced/advanced_file_prevalence_callback_example.py", spread_new_file,
                   ["Prevalence change on topic: " + TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC]),
    Sample("advanced/advanced_reputation_updates_example.py", check_reputation_updates),
    Sample("advanced/advanced_update_metadata_example.py", check_update_metadata),
]


# -- the run ------------------------------------------------------------------------------------


def run_all(sandbox, samples):
    """Runs the samples, printing each one's output and verdict; returns (passed, failed)."""
    passed = failed = 0
    for sample in samples:
        print("=" * 20 + " " + sample.path + " " + "=" * 20, flush=True)
        started = time.monotonic()
        try:
            lines = sample.run(sandbox)
            verdict = "PASS"
            passed += 1
        except SampleFailure as failure:
            lines = failure.lines
            verdict = "FAIL: " + failure.reason
            failed += 1
        except Exception as error:  # a trigger that failed: report it, go on with the others
            lines = []
            verdict = "FAIL: {}: {}".format(type(error).__name__, error)
            failed += 1
        for line in lines:
            print(line)
        print("-- {} ({:.1f} s)".format(verdict, time.monotonic() - started), flush=True)
        print("")
    return passed, failed


def start_sandbox(attempts=2):
    """Brings a sandbox up in a new temporary folder, on a free port (a second try if need be)."""
    for attempt in range(1, attempts + 1):
        sandbox = Sandbox(tempfile.mkdtemp(prefix="dxltie-samples-"))
        print("Starting the sandbox in {} ...".format(sandbox.directory), flush=True)
        try:
            sandbox.up()
            return sandbox
        except BaseException as error:
            stop_sandbox(sandbox)
            if attempt == attempts or not isinstance(error, Exception):
                raise
            print("The sandbox did not start ({}: {}); trying again".format(
                type(error).__name__, error), flush=True)


def stop_sandbox(sandbox):
    sandbox.down()
    shutil.rmtree(sandbox.directory, ignore_errors=True)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="run only the samples whose file name contains NAME")
    args = parser.parse_args(argv)
    samples = [sample for sample in SAMPLES
               if not args.names or any(name in sample.path for name in args.names)]

    # Stop cleanly (sandbox down, template back) when killed as well as on Ctrl+C
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)

    sandbox = None
    template = None
    if os.path.exists(CONFIG_FILE):
        with open(CONFIG_FILE) as config_file:
            template = config_file.read()
    try:
        try:
            sandbox = start_sandbox()
        except Exception as error:
            print("The sandbox did not start: {}: {}".format(type(error).__name__, error))
            passed, failed = 0, len(samples)
        else:
            shutil.copyfile(sandbox.config_file, CONFIG_FILE)
            print("Sandbox up on port {}; its client configuration is written to {}".format(
                sandbox.port, CONFIG_FILE), flush=True)
            print("")
            passed, failed = run_all(sandbox, samples)
    finally:
        if template is None:
            if os.path.exists(CONFIG_FILE):
                os.remove(CONFIG_FILE)
        else:
            with open(CONFIG_FILE, "w") as config_file:
                config_file.write(template)
        if sandbox is not None:
            stop_sandbox(sandbox)
    print("samples: {} passed, {} failed".format(passed, failed))
    return 1 if failed or not samples else 0


if __name__ == "__main__":
    sys.exit(main())
