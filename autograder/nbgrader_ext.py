"""nbgrader preprocessors the course adds to nbgrader's own pipeline."""

from __future__ import annotations

import traceback

import jsonschema
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    NbGraderPreprocessor,
)

from .source import CLAIM_CHECKS_TAG, is_claim_check

__all__ = [
    "ClearHiddenTestsFromFeedback",
    "ClearClaimChecks",
    "CheckCellMetadataSchemaOnce",
    "CLAIM_CHECKS_TAG",
]


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


class _SchemaCompiledOnce(BaseMetadataValidator):
    """nbgrader's check of a cell's metadata against its JSON schema, with
    the schema compiled once per process.

    nbgrader's own check calls ``jsonschema.validate``, which first checks
    the schema itself against JSON Schema's meta-schema, at every cell:
    about 0.13 s of CPU for a notebook of 100 cells, twice per autograded
    notebook. A cell of another schema version gets nbgrader's own check,
    and its error.
    """

    _compiled: dict[int, jsonschema.protocols.Validator] = {}

    def validate_cell(self, cell) -> None:
        meta = cell.metadata.get("nbgrader")
        if meta is None or meta.get("schema_version", 0) != self.schema_version:
            return super().validate_cell(cell)
        compiled = self._compiled.get(self.schema_version)
        if compiled is None:
            kind = jsonschema.validators.validator_for(self.schema)
            kind.check_schema(self.schema)
            compiled = self._compiled[self.schema_version] = kind(self.schema)
        error = jsonschema.exceptions.best_match(compiled.iter_errors(meta))
        if error is not None:
            raise error
        return None


class _MetadataValidatorSchemaOnce(MetadataValidator, _SchemaCompiledOnce):
    """nbgrader's metadata validator (its grade-cell and grade-id rules too);
    in its method order the schema check is :class:`_SchemaCompiledOnce`'s."""


class CheckCellMetadataSchemaOnce(CheckCellMetadata):
    """nbgrader's ``CheckCellMetadata``, same checks and error, run with
    :class:`_MetadataValidatorSchemaOnce`."""

    def preprocess(self, nb, resources):
        try:
            _MetadataValidatorSchemaOnce().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = (
                "Notebook failed to validate; the nbgrader metadata may be corrupted."
            )
            self.log.error(message)
            raise ValidationError(message) from None
        return nb, resources
