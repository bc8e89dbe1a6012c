"""The course pipeline on nbgrader: release, reference outputs, autograding,
grade export and feedback (``python -m autograder --help``), and the graded
checks the notebooks' test cells run (:mod:`autograder.checks`).

See ``autograder/README.md`` for the instructor commands and
``autograder/AUTHORING.md`` for writing an assignment.
"""
