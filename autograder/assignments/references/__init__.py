"""What only the grading process computes, one module per assignment.

``references/a<NN>_<name>.py`` holds the reference functions and custom
comparisons that ``autograder/assignments/a<NN>_<name>.py`` names in its
``Check(...)`` declarations. They live apart because the trusted re-check's
child never runs them (it runs each check's ``call`` and ``make_inputs``, cut
out of the declaration module), so the declaration module keeps only what the
child needs and stays short. A references module never imports its
declaration module (the declaration module imports it).
"""
