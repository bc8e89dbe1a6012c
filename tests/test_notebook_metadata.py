"""Opening a notebook in JupyterLab changes nothing.

JupyterLab writes the kernel's ``language_info`` into a notebook when the
kernel starts; a notebook committed with less (only ``{"name": "python"}``)
opens already marked "unsaved changes". Every solution and release notebook
carries the complete kernel metadata that ipykernel reports.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from fake_class import ASSIGNMENTS, ROOT
from ipykernel.ipkernel import IPythonKernel

KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_carries_complete_kernel_metadata(folder, assignment):
    path = ROOT / folder / assignment / f"{assignment}.ipynb"
    metadata = nbformat.read(path, as_version=4).metadata
    assert metadata.get("kernelspec") == KERNELSPEC, path
    info = dict(metadata.get("language_info", {}))
    version = info.pop("version", "")
    expected = dict(IPythonKernel.language_info)
    expected.pop("version")
    assert info == expected, f"{path}: language_info {info}, expected {expected}"
    # The course's reference Python (a student on another minor version
    # sees JupyterLab update this one field).
    assert re.fullmatch(r"3\.\d+\.\d+", version), f"{path}: version {version!r}"
