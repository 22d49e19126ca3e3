"""Rules for ansible under Zuul: task failures, ignored errors, playbook results.

zuul/zuul ``zuul/ansible/*/callback/zuul_stream.py`` prints a failed task as
``<host> | ERROR`` followed by its result as indented JSON; plain ansible
prints ``fatal: [host]: FAILED! => {…}``, then ``...ignoring`` when the task
had ``ignore_errors``. Each playbook ends with ``RUN END RESULT_<result>:
[playbook]`` (NORMAL even when a task failed: the recap says that).
"""
from __future__ import annotations

import dataclasses
import json

from recheck.logtext import MAX_MESSAGE, Excerpt, ansible_excerpt, ansible_message
from recheck.markers import RULES as R
from recheck.models import FailureKind
from recheck.scanrecords import Records

#: Longest ansible JSON block we try to parse, in lines and in characters.
MAX_JSON_LINES = 4000
MAX_JSON_CHARS = 1024 * 1024


class AnsibleRules(Records):
    """Task failures and playbook results."""

    _play: str | None = None
    _task: str | None = None
    #: Index in found.failures where the current playbook's failures start.
    _run_mark = 0
    _json_host: str | None = None
    _json_line = 0
    _json_depth = 0
    _json_chars = 0
    #: The run of ansible failures that one "...ignoring" takes back: (index, line, host).
    #: A loop task prints one "failed: [host] (item=…) => {…}" per failed item, then a
    #: single "...ignoring" for them all (ansible/ansible plugins/callback/default.py).
    _ignorable: tuple[tuple[int, int, str], ...] = ()

    def _start_ansible_json(self, host: str, number: int) -> None:
        self._json: list[str] = []
        self._json_chars = 0
        self._json_host = host
        self._json_line = number
        self._json_depth = 0
        self._block = self._ansible_json
        self._block_end = self._finish_ansible_json

    def _ansible_json(self, text: str, host: str | None, number: int) -> bool:
        first = text.strip()
        if not self._json and not (first in ("{", "[") or first.startswith(('{"', "[{"))):
            # "host | ERROR" without a JSON body: the failure is all there is.
            self._finish_ansible_json()
            return False
        if host != self._json_host or len(self._json) > MAX_JSON_LINES or self._json_chars > MAX_JSON_CHARS:
            self._finish_ansible_json()
            return False
        self._json.append(text)
        self._json_chars += len(text)
        self._json_depth += text.count("{") + text.count("[") - text.count("}") - text.count("]")
        if self._json_depth <= 0 and text.strip() in ("}", "]"):
            self._block_end = None
            self._block = None
            self._finish_ansible_json()
        return True

    def _finish_ansible_json(self) -> None:
        self._block_end = None
        body = "\n".join(self._json)
        host = self._json_host or "?"
        self._json = []
        self._ansible_failure(self._task_kind(), host, body, self._json_line)

    def _run_end(self, phase: str, result: str, banner: str, stripped: str, number: int) -> None:
        if phase == "PRE-RUN":
            # Task failures since the previous banner happened while setting the node
            # up. Decided here, at the end of the phase, so that finding every
            # "RUN START" banner does not cost one more pass over the log.
            self._reclassify_setup(self._run_mark)
        self._task = None
        if result == "TIMED_OUT":
            self._add(FailureKind.TIMEOUT, _playbook(banner), stripped, number)
        elif result in ("UNREACHABLE", "ABORTED", "DISK_FULL"):
            self._add(FailureKind.INFRA, _playbook(banner), stripped, number)
        elif result != "NORMAL":
            self._failed_sign(f"{phase} END RESULT_{result}", number)
        self._run_mark = len(self.found.failures)

    def _task_before_here(self) -> str | None:
        """Plain ansible output (no Zuul prefixes): find the ``TASK [`` banner above.

        Only Zuul's ``| TASK [`` banners are markers (a pass over the log each);
        for the rare plain-ansible failure, look back in the current block."""
        block, start, _ = self._where
        lo = max(0, start - 1024 * 1024)
        at = block.rfind(b"TASK [", lo, start)
        while at > 0 and block[at - 1 : at] != b"\n":
            at = block.rfind(b"TASK [", lo, at)
        if at < 0:
            return None
        end = block.find(b"\n", at)
        m = R["task"].match(block[at:end].decode("utf-8", "replace"))
        return m.group(1) if m else None

    def _reclassify_setup(self, start: int) -> None:
        failures = self.found.failures
        for index in range(start, len(failures)):
            if failures[index].kind is FailureKind.TASK:
                failures[index] = dataclasses.replace(failures[index], kind=FailureKind.SETUP)

    def _task_kind(self) -> FailureKind:
        names = f"{self._play or ''} {self._task or ''}".lower()
        if "devstack" in names or "setup" in names:
            return FailureKind.SETUP
        return FailureKind.TASK

    def _take_back_ignored(self, number: int) -> None:
        # ansible prints "...ignoring" right after the failure(s) of a task with ignore_errors.
        run, self._ignorable = self._ignorable, ()
        failures = self.found.failures
        if run and run[-1][0] == len(failures) - 1 and number - run[-1][1] <= MAX_JSON_LINES:
            del failures[run[0][0] :]

    def _start_ansible_yaml(self, kind: FailureKind, host: str, number: int) -> None:
        """``fatal: [host]: FAILED! =>`` with nothing after it: ansible's ``yaml`` stdout
        callback prints the result on the following lines, indented (``  msg: …``)."""
        self._yaml: list[str] = []
        self._yaml_size = 0
        self._yaml_kind = kind
        self._yaml_target = host
        self._yaml_line = number
        self._yaml_prefix_host: str | None = None
        self._block = self._ansible_yaml
        self._block_end = self._finish_ansible_yaml

    def _ansible_yaml(self, text: str, host: str | None, number: int) -> bool:
        if not self._yaml:
            self._yaml_prefix_host = host
        body_line = text[:1] in (" ", "\t") and bool(text.strip())
        if (
            not body_line
            or host != self._yaml_prefix_host
            or len(self._yaml) >= MAX_JSON_LINES
            or self._yaml_size > MAX_JSON_CHARS
        ):
            self._finish_ansible_yaml()
            return False
        self._yaml.append(text)
        self._yaml_size += len(text)
        return True

    def _finish_ansible_yaml(self) -> None:
        self._block_end = None
        lines, self._yaml = self._yaml, []
        message = _yaml_msg(lines)
        excerpt = Excerpt()
        for line in lines:
            excerpt.add(line.strip("\n"))
        self._record_ansible(self._yaml_kind, self._yaml_target, message, excerpt.text(), self._yaml_line)

    def _ansible_failure(self, kind: FailureKind, host: str, body: str | None, number: int) -> None:
        if not body or not body.strip():
            self._start_ansible_yaml(kind, host, number)
            return
        doc = None
        if len(body) <= MAX_JSON_CHARS:
            try:
                doc = json.loads(body)
            except (ValueError, RecursionError):
                pass
        if isinstance(doc, dict):
            message = ansible_message(doc)
            excerpt_text = ansible_excerpt(doc)
        else:
            excerpt = Excerpt()
            for line in body.splitlines()[:MAX_JSON_LINES]:
                excerpt.add(line)
            excerpt_text = excerpt.text()
            message = body.split("\n", 1)[0][:MAX_MESSAGE] if body.strip() else ""
        self._record_ansible(kind, host, message, excerpt_text, number)

    def _record_ansible(self, kind: FailureKind, host: str, message: str, excerpt_text: str, number: int) -> None:
        # The play is left out: finding every "PLAY [" banner would cost one more pass
        # over the whole log, and Zuul's plays are mostly named after hosts anyway.
        task_id = "/".join(x for x in (self._task, host) if x) or host
        if "timed out" in message.lower() or "timeout" in message.lower():
            kind = FailureKind.TIMEOUT if kind is not FailureKind.INFRA else kind
        self._add(kind, task_id, message or f"task failed on {host}", number, excerpt_text)
        index = len(self.found.failures) - 1
        run = self._ignorable
        if not run or run[-1][2] != host or run[-1][0] != index - 1:
            run = ()
        self._ignorable = (*run, (index, number, host))
        if self._matcher is not None:
            self._matcher.feed(message + "\n" + excerpt_text, number)


def _yaml_msg(lines: list[str]) -> str:
    """The ``msg:`` of a result printed by the yaml callback (plain, quoted or a ``|`` block)."""
    for index, line in enumerate(lines):
        key, sep, value = line.strip().partition(":")
        if key != "msg" or not sep:
            continue
        value = value.strip()
        if value[:1] in ("|", ">"):
            indent = len(line) - len(line.lstrip())
            block = []
            for more in lines[index + 1 :]:
                if len(more) - len(more.lstrip()) <= indent:
                    break
                block.append(more.strip())
            value = " ".join(x for x in block if x)
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        return value[:MAX_MESSAGE]
    return ""


def _playbook(banner: str) -> str:
    # "trusted : opendev.org/zuul/zuul-jobs/playbooks/run.yaml@master" → the playbook path.
    path = banner.split(" : ", 1)[-1]
    return path.split("@", 1)[0]
