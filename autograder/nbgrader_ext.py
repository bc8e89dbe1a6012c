"""nbgrader preprocessors the course adds to nbgrader's own pipeline."""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests

__all__ = ["ClearHiddenTestsFromFeedback"]


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
