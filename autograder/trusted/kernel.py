"""Confined kernels for ``nbgrader autograde`` (the course's default).

The trusted re-check decides the grade, but nbgrader still runs every
submission first, in a kernel that runs student code. Code there cannot
change the re-check's verdict of *this* run (the re-check reads what it
depends on before, see :meth:`Session.snapshot`), but unconfined it could
read the course secret and the hidden reference outputs (and print them
into its feedback), or rewrite what later runs depend on: the gradebook, the
re-check's progress file, another student's submission, the grader's own
source (``autograder/``, ``dlcore/``) or the shared Numba cache.

:class:`ConfinedKernelManager` starts each kernel through
:mod:`autograder.trusted.kernel_launcher`, which confines it with Landlock
and then ``exec``\\ s the real kernel:

* it may **read** everything a notebook needs (Python, the virtualenv,
  dlcore, ``autograder/``, the system) but **not** the course state
  (``$AUTOGRADER_STATE_DIR``: secret, references, gradebook, the other
  students' autograded work), ``solutions/`` or the submissions folder. The
  kernels need none of them: while autograding, hidden tests are not run in
  the kernel (:func:`autograder.checks.check`), the trusted re-check scores
  them. Folder *names* there stay listable (Landlock grants listing on a
  whole tree), file contents do not;
* it may **write** only in its working directory (nbgrader's
  ``autograded/<student>/<assignment>/`` copy), a private temporary folder
  (``TMPDIR``, IPython's and Matplotlib's settings, a private copy of the
  Numba cache) and ``/dev/null`` (not in a working directory that holds
  the course state);
* it may listen on TCP ports (its ZeroMQ sockets) but open **no** TCP
  connection;
* it cannot **signal** processes outside its sandbox (the grader);
* ``$AUTOGRADER_SECRET`` is removed from its environment.

The course configuration (``autograder/nbgrader_config.py``) sets it for
every nbgrader execution::

    c.Execute.kernel_manager_class = "autograder.trusted.kernel.ConfinedKernelManager"

Under ``nbgrader validate`` (``NBGRADER_EXECUTION=validate``: the instructor's
solution notebooks, whose hidden tests read the course state) the kernel
starts unconfined. Without Landlock (old kernels, other systems) it starts
unconfined too and says so on its stderr; the re-check's verdict still
stands, but the kernel can then read the course state.
"""

from __future__ import annotations

import shutil
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager

__all__ = ["ConfinedKernelManager"]


class ConfinedKernelManager(AsyncKernelManager):
    """An :class:`AsyncKernelManager` (nbclient's default) whose kernels start
    confined; it removes each kernel's private folder when the kernel ends."""

    _private: str | None = None

    def _drop_private(self) -> None:
        if self._private:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        self._drop_private()  # a restart gets a fresh one
        self._private = tempfile.mkdtemp(prefix="autograder-kernel-")
        launcher = [sys.executable, "-m", "autograder.trusted.kernel_launcher"]
        return [*launcher, "--private", self._private, "--", *command]

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self._drop_private()

    cleanup_resources = _async_cleanup_resources
