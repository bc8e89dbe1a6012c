"""Known wrong answers, one module per assignment (issue 15).

``mistakes/a<NN>_<name>.py`` holds, for the checks of
``autograder/assignments/a<NN>_<name>.py``, the plausible wrong answers a
class makes (each written as a student would write it, or as what it
returns) and ``MISCONCEPTIONS``: per check name, the
:class:`autograder.declarations.Misconception` records that pair each
wrong answer with the message naming the mistake. The declaration module
gives them to its checks (``misconceptions=MISCONCEPTIONS["linear"]``).
It may also hold ``MORE_HINTS``, per check name the level-2 hints
(``more_hints=MORE_HINTS["linear"]``), where the declaration module has
no room for them (07, 08).

Like the references, only the grading process runs them (to name the
mistake a failing result matches, ``Check.diagnose``); the trusted
re-check's child never does. A mistakes module may import its references
module, never its declaration module (the declaration module imports it).
"""
