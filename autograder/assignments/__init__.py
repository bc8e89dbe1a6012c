"""Check declarations, one module per assignment.

``a<NN>_<name>.py`` belongs to the assignment folder ``solutions/<NN>_<name>/``
and defines ``CHECKS`` (a list of :class:`autograder.checks.Check`) and
``WITHHELD`` (dotted names of the dlcore definitions the graded cells ask
students to write: functions, classes, methods; see
:mod:`autograder.withhold`). Its reference
functions and custom comparisons live in ``references/a<NN>_<name>.py``
(the layout: ``autograder/AUTHORING.md``, section 1).
"""
