"""A cycle's small files taken together: each step done for a group of files at once.

At month-end most lists are a few dozen rows, and taken one by one every
step is a fixed cost per file: a claim, a lock, a fetch, a commit, three
uploads and a move, each a round trip or a transaction of its own. Here a
group of new small files (at most one per employer, so each employer's files
keep their order) is claimed in one statement, locked in one, fetched over
several SFTP sessions at once, judged together (its employers and members
read at once, its rows parsed and checked in one stack, its result files
built together), committed in one transaction (its valid lists posted by one
set of statements, `ledger.post_many`), and published and archived over the
sessions again, each step recorded for the whole group in one statement.

The guarantees are the single file's: the step each batch reached is in the
register, so a crash anywhere resumes each batch where it stopped; the group
transaction holds every list's complete outcome or none of them; a list whose
writing fails rolls the group back, and the group is committed again one
list per transaction, so one bad list never holds the others back.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable

from sqlalchemy import Engine

from batch.stopwatch import IDLE, Stopwatch
from batch.validate import Submission, ValidationOptions
from db import register
from db.errors import DatabaseReplaced, database_errors
from db.locks import try_locks
from db.store import Store
from jobs.crashes import crash_point
from jobs.decisions import Decision, check, check_many, commit, commit_many, decision_on, decisions_on, month_of
from jobs.settings import PipelineOptions
from schemas.errors import HpfError, TransientError
from schemas.statuses import Outcome, Step
from sftp.client import ReadyFile, SftpClient
from sftp.errors import FileChanged
from sftp.sessions import Sessions

log = logging.getLogger(__name__)

Claimed = tuple[ReadyFile, int]
"""A ready file and the batch this cycle created for it."""


def failed(engine: Engine, batch_id: int, error: BaseException) -> Outcome:
    """Record a batch's failure; a TransientError (the server or the database out of reach) is raised again.

    Anything else is this file's own trouble, or a bug: it must not stop the other files.
    """
    if isinstance(error, DatabaseReplaced):
        raise error
    if isinstance(error, TransientError):
        with contextlib.suppress(TransientError), database_errors():
            register.fail(engine, batch_id, str(error))
        raise error
    if not isinstance(error, HpfError):
        log.error("批次%s内部错误\n%s", batch_id, "".join(traceback.format_exception(error)))
    message = str(error) if isinstance(error, HpfError) else f"内部错误：{type(error).__name__}: {error}"
    with database_errors():
        register.fail(engine, batch_id, message)
    return Outcome.FAILED


def take(
    validation: ValidationOptions,
    options: PipelineOptions,
    store: Store,
    pool: Sessions,
    claimed: list[Claimed],
    *,
    watch: Stopwatch = IDLE,
    check_database: Callable[[], None] = lambda: None,
) -> list[tuple[ReadyFile, Outcome]]:
    """Take a group of newly claimed small files as far as they go; each file's outcome, in order.

    Raises TransientError when the cycle must stop (each batch not yet decided is recorded FAILED first).
    """
    engine = store.engine
    outcomes: dict[int, Outcome] = {}
    with database_errors(), try_locks(engine, [f"batch-{i}" for _, i in claimed]) as held:
        mine = [(ready, i) for ready, i in claimed if f"batch-{i}" in held]
        outcomes |= {i: Outcome.BUSY for _, i in claimed if f"batch-{i}" not in held}
        crash_point("claimed")
        group = _Group(validation, options, store, pool, watch, outcomes)
        try:
            decisions = group.decide(mine)
            check_database()  # the outcomes just committed must be in the ledger we started with
            published = group.publish(decisions)
            group.archive(published)
        except TransientError as e:
            for _, i in mine:
                if i not in outcomes:  # not decided: FAILED with the reason, taken again by the next cycle
                    with contextlib.suppress(TransientError), database_errors():
                        register.fail(engine, i, str(e))
            raise
    return [(ready, outcomes[i]) for ready, i in claimed]


class _Group:
    """One group's steps; `outcomes` collects each batch's outcome as it is known."""

    def __init__(
        self,
        validation: ValidationOptions,
        options: PipelineOptions,
        store: Store,
        pool: Sessions,
        watch: Stopwatch,
        outcomes: dict[int, Outcome],
    ) -> None:
        self.validation, self.options, self.store, self.pool = validation, options, store, pool
        self.watch, self.outcomes = watch, outcomes
        self.engine = store.engine

    def _failed(self, batch_id: int, error: BaseException) -> None:
        self.outcomes[batch_id] = Outcome.FAILED  # recorded by `failed`, even when it raises
        self.outcomes[batch_id] = failed(self.engine, batch_id, error)

    def decide(self, mine: list[Claimed]) -> list[tuple[ReadyFile, Decision]]:
        """Fetch, judge and commit the group; the decisions committed, in order."""
        settle = self.options.settle

        def fetch(session: SftpClient, ready: ReadyFile) -> bytes:
            data = session.fetch(ready)
            if settle and not session.unchanged(ready):
                raise FileChanged(f"{ready.name} 在读取过程中被修改，待其稳定后作为新文件处理")
            return data

        with self.watch.stage("fetch"):
            fetched = list(self.pool.map(fetch, [ready for ready, _ in mine]))
        submissions: list[tuple[ReadyFile, int, Submission]] = []
        for (ready, batch_id), data in zip(mine, fetched, strict=True):
            if isinstance(data, BaseException):
                self._failed(batch_id, data)
            else:
                submissions.append(
                    (ready, batch_id, Submission(ready.name, data, inbox_unit=ready.unit, marker=ready.marker))
                )
        with database_errors():
            register.fetched_many(self.engine, [(i, s.sha256, month_of(r.name)) for r, i, s in submissions])
        crash_point("fetched")
        return self._commit(self._judge(submissions))

    def _judge(self, submissions: list[tuple[ReadyFile, int, Submission]]) -> list[tuple[ReadyFile, Decision]]:
        """The group validated together; if that fails, each file alone, so the trouble stays with its file."""
        try:
            reports = check_many([(s, i) for _, i, s in submissions], self.validation, self.store, self.watch)
            items = [(report, r.unit, i) for (r, i, _), report in zip(submissions, reports, strict=True)]
            decided = decisions_on(items, self.options, self.store, self.watch)
            return [(r, d) for (r, _, _), d in zip(submissions, decided, strict=True)]
        except TransientError:
            raise
        except Exception as e:
            log.warning("一组%d个清册未能一并检查（%s），改为逐个检查", len(submissions), e)
        judged: list[tuple[ReadyFile, Decision]] = []
        for ready, batch_id, submission in submissions:
            try:
                report = check(submission, self.validation, self.store, before=batch_id, watch=self.watch)
                judged.append((ready, decision_on(report, self.options, self.store, ready.unit, batch_id, self.watch)))
            except Exception as e:
                self._failed(batch_id, e)
        return judged

    def _commit(self, judged: list[tuple[ReadyFile, Decision]]) -> list[tuple[ReadyFile, Decision]]:
        """Every decision in one transaction; if one cannot be written, each in its own."""
        if not judged:
            return []
        try:
            with self.watch.stage("post"), database_errors(), self.engine.begin() as conn:
                commit_many(conn, [d for _, d in judged], self.options, self.watch)
        except (TransientError, DatabaseReplaced):
            raise
        except Exception as e:
            log.warning("一组%d个清册未能一并入账（%s），改为逐个入账", len(judged), e)
            return self._commit_each(judged)
        crash_point("committed")
        for _, decision in judged:
            self.outcomes[decision.batch_id] = Outcome.of(decision.status)
        return judged

    def _commit_each(self, judged: list[tuple[ReadyFile, Decision]]) -> list[tuple[ReadyFile, Decision]]:
        done = []
        for ready, decision in judged:
            try:
                with self.watch.stage("post"), database_errors(), self.engine.begin() as conn:
                    commit(conn, decision, self.options, self.watch)
            except Exception as e:
                self._failed(decision.batch_id, e)
                continue
            crash_point("committed")
            self.outcomes[decision.batch_id] = Outcome.of(decision.status)
            done.append((ready, decision))
        return done

    def publish(self, decisions: list[tuple[ReadyFile, Decision]]) -> list[tuple[ReadyFile, int]]:
        """Each decided batch's result files into its employer's outbox; the batches published.

        The files as committed, from memory; those of a batch restated since
        (money arrived, a reversal) as the register now tells them.
        """
        with self.watch.stage("publish"):
            with database_errors(), self.engine.connect() as conn:
                standing = register.as_decided(conn, {d.batch_id: d.status for _, d in decisions})
                others = [d.batch_id for _, d in decisions if d.batch_id not in standing]
                restated = register.results_many(conn, others) if others else {}
            files = {
                d.batch_id: d.files if d.batch_id in standing else restated.get(d.batch_id, {}) for _, d in decisions
            }

            def upload(session: SftpClient, item: tuple[ReadyFile, Decision]) -> list[str]:
                ready, decision = item
                return session.publish(ready.unit, files[decision.batch_id], sweep=False)

            uploaded = list(self.pool.map(upload, decisions))
            done = []
            for (ready, decision), names in zip(decisions, uploaded, strict=True):
                if isinstance(names, BaseException):
                    self._failed(decision.batch_id, names)
                    continue
                done.append((ready, decision.batch_id, f"结果已上传到outbox：{', '.join(files[decision.batch_id])}"))
            with database_errors():
                register.advance_many(self.engine, [(i, message) for _, i, message in done], Step.PUBLISHED)
        crash_point("published")
        return [(ready, i) for ready, i, _ in done]

    def archive(self, published: list[tuple[ReadyFile, int]]) -> None:
        with self.watch.stage("archive"):
            moved = list(self.pool.map(lambda session, item: session.archive(item[0]), published))
            done = []
            for (_, batch_id), where in zip(published, moved, strict=True):
                if isinstance(where, BaseException):
                    self._failed(batch_id, where)
                else:
                    done.append((batch_id, f"源文件已归档：{where}"))
            with database_errors():
                register.advance_many(self.engine, done, Step.ARCHIVED)
