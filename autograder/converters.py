"""nbgrader's converters, made never to follow a link student code planted.

nbgrader's ``Autograde`` executes a submission with its kernel working in
``autograded/<student>/<assignment>/``, then writes the executed notebook
back there and ``chmod``\\ s every file; ``GenerateFeedback`` reads that
notebook and copies every other file of the folder into the feedback that
the student receives. nbgrader does all of it with plain ``open``,
``shutil.copy`` and ``os.chmod``, which follow symbolic links: a kernel
that replaces its notebook by a link to the gradebook has the write-back
destroy the gradebook, and a link to the course secret planted next to it
is copied into the student's feedback.

The classes here are nbgrader's own, with those file operations done by
:mod:`autograder.safe_files`: only regular files are read, copied or
``chmod``\\ ed (links and special files are left where they are and logged),
and every write creates a new file renamed over the old name.
``SafeAutograde`` also skips the declared demo cells before executing
(:mod:`autograder.demo_cells`). The course's
commands (:mod:`autograder.pipeline`) use these classes in place of
nbgrader's.
"""

from __future__ import annotations

import datetime
import io
import os
from pathlib import Path

from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback
from nbgrader.converters.base import BaseConverter
from nbgrader.preprocessors import Execute
from nbgrader.utils import find_all_files

from .demo_cells import SkipDeclaredDemos
from .safe_files import (
    NotRegularFile,
    chmod_regular,
    copy_regular,
    read_regular,
    regular_files,
    write_replacing,
)

__all__ = ["SafeAutograde", "SafeGenerateFeedback", "SafeGenerateAssignment"]


class _RegularFilesOnly(BaseConverter):
    """The file operations of :class:`BaseConverter`, on regular files only.

    Placed after nbgrader's converter in a subclass's bases
    (``class SafeAutograde(Autograde, _RegularFilesOnly)``), so that the
    converter's own ``super().init_assignment(...)`` reaches this one.
    """

    def _folders(self, assignment_id: str, student_id: str) -> tuple[Path, Path]:
        return (
            Path(self._format_source(assignment_id, student_id)),
            Path(self._format_dest(assignment_id, student_id)),
        )

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        """Copy the folder's other files (not notebooks), regular files only."""
        source, dest = self._folders(assignment_id, student_id)
        ignored = self.coursedir.ignore + ["*.ipynb"]
        for filename in find_all_files(str(source), ignored):
            path = Path(filename)
            try:
                copy_regular(source, path, dest, dest / path.relative_to(source))
            except (NotRegularFile, FileNotFoundError) as err:
                self.log.warning("Not copied: %s (%s)", path, err)
                continue
            self.log.info("Copied %s -> %s", path, dest)

    def convert_single_notebook(self, notebook_filename: str) -> None:
        """Read the notebook only if it is a regular file, then convert it
        as nbconvert's ``Exporter.from_filename`` would."""
        path = Path(notebook_filename)
        data = read_regular(path.parent, path)
        resources = self.init_single_notebook_resources(notebook_filename)
        resources.setdefault("metadata", {})
        resources["metadata"]["name"] = path.stem
        resources["metadata"]["path"] = str(path.parent)
        modified = datetime.datetime.fromtimestamp(
            os.lstat(path).st_mtime, tz=datetime.timezone.utc
        )
        resources["metadata"]["modified_date"] = modified.strftime("%B %-d, %Y")
        output, resources = self.exporter.from_file(
            io.StringIO(data.decode("utf-8")), resources=resources
        )
        self.write_single_notebook(output, resources)

    def write_single_notebook(self, output, resources) -> None:
        """Write the converted notebook (and extracted files) as new files."""
        info = resources["nbgrader"]
        dest = Path(self._format_dest(info["assignment"], info["student"]))
        dest.mkdir(parents=True, exist_ok=True)
        self.writer.build_directory = str(dest)  # nbgrader reads it back
        for name, data in resources.get("outputs", {}).items():
            write_replacing(dest, dest / name, data)
        target = dest / f"{resources['unique_key']}{resources['output_extension']}"
        data = output.encode("utf-8") if isinstance(output, str) else output
        write_replacing(dest, target, data)

    def set_permissions(self, assignment_id: str, student_id: str) -> None:
        """nbgrader's permissions on the regular files of the destination."""
        _, dest = self._folders(assignment_id, student_id)
        permissions = int(str(self.permissions), 8)
        for path in regular_files(dest):
            chmod_regular(dest, path, permissions)


class SafeAutograde(Autograde, _RegularFilesOnly):
    """nbgrader's ``Autograde``; the write-back follows no planted link, and
    the source notebook's declared demos are skipped
    (:class:`~autograder.demo_cells.SkipDeclaredDemos`)."""

    def _init_preprocessors(self) -> None:
        """nbgrader's steps; in the grading pass, the demo skip right before
        ``Execute`` (after sanitizing, which restored the locked cells)."""
        super()._init_preprocessors()
        if self._sanitizing:
            return
        steps = self.exporter._preprocessors  # the list nbgrader itself resets
        first = next(i for i, step in enumerate(steps) if isinstance(step, Execute))
        source = Path(self.coursedir.root) / self.coursedir.source_directory
        skip = SkipDeclaredDemos(parent=self.exporter, source_directory=str(source))
        steps.insert(first, skip)


class SafeGenerateFeedback(GenerateFeedback, _RegularFilesOnly):
    """nbgrader's ``GenerateFeedback``; reads and copies regular files only."""


class SafeGenerateAssignment(GenerateAssignment, _RegularFilesOnly):
    """nbgrader's ``GenerateAssignment``; copies regular files only."""
