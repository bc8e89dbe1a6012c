"""Check declarations, one module per assignment.

``a<NN>_<name>.py`` belongs to the assignment folder ``solutions/<NN>_<name>/``
and defines ``CHECKS`` (a list of :class:`autograder.checks.Check`) and,
optionally, ``WITHHELD`` (dotted names of the dlcore functions the graded
cells ask students to write; see :mod:`autograder.withhold`). Its reference
functions and custom comparisons live in ``references/a<NN>_<name>.py``
(the layout: ``autograder/AUTHORING.md``, section 1).
"""
