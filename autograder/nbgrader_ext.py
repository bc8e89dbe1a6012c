"""nbgrader preprocessors the course adds to nbgrader's own pipeline."""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from .source import CLAIM_CHECKS_TAG, is_claim_check

__all__ = ["ClearHiddenTestsFromFeedback", "ClearClaimChecks", "CLAIM_CHECKS_TAG"]


class ClearHiddenTestsFromFeedback(ClearHiddenTests):
    """Remove hidden tests from the feedback, source *and* tracebacks.

    nbgrader restores the hidden tests into the autograded notebook and its
    feedback shows that notebook. This removes the hidden region from each
    test cell and, in cells that had one, reduces every error output to its
    last line (the exception type and message): IPython's traceback would
    otherwise quote the failing line of the hidden test. The messages of
    :class:`autograder.checks.CheckFailure` are written to stand alone.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        removed = self._remove_hidden_test_region(cell)
        if removed:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        return cell, resources


class ClearClaimChecks(NbGraderPreprocessor):
    """Drop the claim-check cells (:data:`CLAIM_CHECKS_TAG`) from the release.

    A claim-check cell carries no nbgrader role: autograding keeps a
    submission's own copy of unmarked cells, so the solution, graded as a
    student, runs its checks, while a student's notebook has none to run.
    """

    def preprocess(self, nb, resources):
        kept = []
        for index, cell in enumerate(nb.cells):
            if not is_claim_check(cell):
                kept.append(cell)
                continue
            role = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or any(
                role.get(key) for key in ("grade", "solution", "locked", "task")
            ):
                raise RuntimeError(
                    f"cell {index}: a {CLAIM_CHECKS_TAG!r} cell must be a code cell "
                    f"with no nbgrader role (grade, solution, locked or task); "
                    f"got {cell.cell_type} cell with {dict(role)}"
                )
        nb.cells = kept
        return nb, resources
