"""The course under test and the fake class of the shared course run.

Every assignment of ``solutions/`` (``PIPELINE_ASSIGNMENTS`` picks a subset
while developing one), and the students that ``tests/course_run.py``
grades: for every assignment the solution notebook and the untouched
release, and these.

Among the students of 04_batchnorm, ``ann`` and ``bob`` make known
mistakes (the class report counts them: ``test_report.py``): both divide the
batch variance by N - 1, and ann's backward pass treats the batch statistics
as constants.

In 03_optimizers and 07_cnn, ``internals`` takes some answers from dlcore's
own implementation (an optimizer's ``_update``, ``EarlyStopping``, dlcore's
cross-entropy inside the smoothed loss) and gives one honest answer: those
parts score zero in the trusted re-check, whose child for them has no
dlcore (issue 16).

Among the students of 01_backprop, ``mallory`` fools nbgrader with an IPython
input transformer (the end-to-end case of ``test_integrity.py``), and
``snooper`` (one student: each executed
notebook costs seconds) has a tanh that is right on the visible test's inputs
only, so that only its hidden test fails, and an answer cell that tries to
read the course secret, the hidden references and the gradebook and prints
what it got. ``borrower`` answers ELU with dlcore's own code, variables
renamed; ``dave`` copies ``carol``'s own two-layer gradients with light
edits: all three keep their scores and are flagged for review, the reason
naming the partner (``COPIERS``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(
    d.name
    for d in (ROOT / "solutions").iterdir()
    if d.is_dir() and any(d.glob("*.ipynb"))
)
if os.environ.get("PIPELINE_ASSIGNMENTS"):  # a subset, while developing one
    ASSIGNMENTS = [
        a for a in ASSIGNMENTS if a in os.environ["PIPELINE_ASSIGNMENTS"].split(",")
    ]
FIRST = "01_backprop"
# The student whose answer loops forever, graded in a run of its own with
# the short cell timeout (harness.HANG_SECONDS); every other run has the
# generous one.
LOOPER = "looper"
# When every fake student submitted, in the format of nbgrader's exchange.
SUBMITTED_AT = "2025-03-01 11:30:00.000000 UTC"


# ------------------------------------------------------- fake submissions

SOLUTION_LINES = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_answers(assignment: str) -> dict[str, str]:
    """{grade_id: source} of the solution's answer cells, without the
    solution markers: what a student who got everything right writes."""
    solution = nbformat.read(
        ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4
    )
    return {
        cell.metadata["nbgrader"]["grade_id"]: "\n".join(
            line
            for line in cell.source.splitlines()
            if line.strip() not in SOLUTION_LINES
        )
        for cell in solution.cells
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    }


def filled_release(
    course: Path, assignment: str, overrides: dict[str, str] | None = None
):
    """The student release with every answer cell filled with the solution."""
    answers = solution_answers(assignment)
    answers.update(overrides or {})
    nb = nbformat.read(course / "notebooks" / assignment / f"{assignment}.ipynb", 4)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
    return nb


# An infinite loop in one answer, reached only from its test cell (the
# graded inputs have 3 features, the demo's points 2).
LOOPING_PERCEPTRON = """
def perceptron_epoch(w, b, x, y):
    if x.shape[1] == 3:
        while True:
            pass
    w = np.array(w, dtype=float)
    b = float(b)
    mistakes = 0
    for x_i, y_i in zip(x, y):
        if y_i * (x_i @ w + b) <= 0:
            w = w + y_i * x_i
            b = b + y_i
            mistakes += 1
    return w, b, mistakes
"""

KERNEL_KILLER = """
import os

os._exit(1)
"""

# Appended to a correct answer: print the instructor's files into the feedback.
SNOOPER = """
import os as _os

_state = _os.environ.get("AUTOGRADER_STATE_DIR", "")
for _name in ("secret", "references/01_backprop.npz", "gradebook.db"):
    try:
        with open(_os.path.join(_state, _name), "rb") as _fh:
            print("SNOOP", _name, _fh.read()[:4096])
    except Exception as _err:
        print("SNOOP", _name, type(_err).__name__)
print("SNOOP env", _os.environ.get("AUTOGRADER_SECRET"))
"""

# Right on the visible test's inputs only (recognised by a digest of its
# dout): the hidden test, on other inputs, finds the forgotten square.
OVERFIT_TANH = """
import hashlib


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    seen = hashlib.sha256(np.ascontiguousarray(dout).tobytes()).hexdigest()
    if seen == VISIBLE_DOUT:
        return dout * (1.0 - cache * cache)
    return dout * (1.0 - cache)
"""


def _overfit_tanh() -> str:
    import hashlib

    from autograder import checks

    dout = checks.get_check(FIRST, "tanh").inputs(checks.visible_seed(FIRST, "tanh"))
    digest = hashlib.sha256(dout["dout"].tobytes()).hexdigest()
    return f"VISIBLE_DOUT = {digest!r}\n" + OVERFIT_TANH


# Appended to an answer: in the trusted re-check's child (no IPython there)
# end the process with the runner's own "could not confine" status, which
# once made the grader blame itself and stop grading everyone (issue 16).
FORGED_STATUS = """
try:
    get_ipython()
except NameError:
    import os

    os._exit(71)
"""

# Appended to a correct answer: in nbgrader's kernel, whose folder is the
# autograded one, leave links and a FIFO for the grader's write-back and the
# feedback to trip over, and look for the secret in the environment of every
# process above.
VANDAL = """
import os as _os

_state = _os.environ.get("AUTOGRADER_STATE_DIR", "")
for _name, _target in (
    ("leak.txt", "secret"),
    ("_swap", "gradebook.db"),
):
    try:
        _os.symlink(_os.path.join(_state, _target), _name)
    except OSError as _err:
        print("VANDAL link", _name, type(_err).__name__)
try:
    _os.replace("_swap", "01_backprop.ipynb")
except OSError as _err:
    print("VANDAL swap", type(_err).__name__)
try:
    _os.mkfifo("pipe.txt")
except OSError as _err:
    print("VANDAL fifo", type(_err).__name__)
_found, _pid = [], _os.getppid()
while _pid > 1:
    try:
        with open(f"/proc/{_pid}/environ", "rb") as _fh:
            _found += [v for v in _fh.read().split(b"\\0") if b"SECRET" in v]
        with open(f"/proc/{_pid}/stat") as _fh:
            _pid = int(_fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        break
print("VANDAL environ", _found)
"""

# Issue 16, copy detection (autograder/copies.py): dlcore's own ELU
# (dlcore/functional/activations.py) pasted into the template, its variables
# renamed, the validation dropped and the cache a tuple.
BORROWED_ELU = '''
def elu_forward(x, alpha=1.0):
    """ELU, x for x > 0 and alpha * (exp(x) - 1) otherwise. Returns (out, cache)."""
    is_pos = x > 0
    # expm1 is accurate near 0; the minimum keeps exp from overflowing
    below = alpha * np.expm1(np.minimum(x, 0))
    result = np.where(is_pos, x, below).astype(x.dtype, copy=False)
    return result, (is_pos, result, alpha)


def elu_backward(dout, cache):
    """Gradient of ELU."""
    is_pos, result, a = cache
    return np.where(is_pos, dout, dout * (result + a)).astype(dout.dtype, copy=False)
'''

# carol's own two-layer gradients (right, and written unlike the solution)...
OWN_TWO_LAYER = """
def two_layer_gradients(x, y, W1, b1, w2, b2):
    hidden_in = W1 @ x + b1
    hidden = np.tanh(hidden_in)
    score = float(np.dot(w2, hidden) + b2)
    y_hat = 1.0 / (1.0 + np.exp(-score))
    delta_out = (y_hat - y) * y_hat * (1.0 - y_hat)
    tanh_slope = 1.0 - np.tanh(hidden_in) ** 2
    delta_hidden = delta_out * w2 * tanh_slope
    grad_W1 = delta_hidden[:, None] * x[None, :]
    grad_b1 = delta_hidden.copy()
    grad_w2 = delta_out * hidden
    return delta_out, delta_hidden, grad_W1, grad_b1, grad_w2, delta_out
"""
# ... and dave's copy of it: names changed, comments added.
COPIED_TWO_LAYER = """
def two_layer_gradients(x, y, W1, b1, w2, b2):
    # forward pass
    pre = W1 @ x + b1
    h = np.tanh(pre)
    s = float(np.dot(w2, h) + b2)
    p = 1.0 / (1.0 + np.exp(-s))
    # backward pass: output error, then hidden error
    e_out = (p - y) * p * (1.0 - p)
    slope = 1.0 - np.tanh(pre) ** 2
    e_hid = e_out * w2 * slope
    gW1 = e_hid[:, None] * x[None, :]
    gb1 = e_hid.copy()
    gw2 = e_out * h
    return e_out, e_hid, gW1, gb1, gw2, e_out
"""
# The copiers of 01 and what each copied (from whom), as the reason names it.
COPIERS = {
    "borrower": ("elu_answer", "dlcore's `elu_backward`, `elu_forward`"),
    "carol": ("two_layer_gradients_answer", "student dave's answer"),
    "dave": ("two_layer_gradients_answer", "student carol's answer"),
}

# Issue 16: answers of 03 and 07 that take dlcore's own implementation. Each
# passes its check where dlcore is reachable (test_harm shows it); the
# re-check runs them where dlcore is neither loaded nor readable.
OPTIMIZER_INTERNALS = {
    "momentum_step_answer": """
from dlcore.optim import SGD


def momentum_step(theta, grad, velocity, lr, gamma):
    param = np.array(theta, dtype=float)
    state = {"momentum_buffer": np.array(velocity, dtype=float) / lr}
    SGD(lr=lr, momentum=gamma)._update(param, np.asarray(grad, dtype=float), state)
    return param, lr * state["momentum_buffer"]
""",
    "adagrad_step_answer": """
from dlcore.optim import Adagrad


def adagrad_step(theta, grad, G, lr, eps=1e-10):
    param = np.array(theta, dtype=float)
    state = {"sum": np.array(G, dtype=float), "step": 1}
    Adagrad(lr=lr, eps=eps)._update(param, np.asarray(grad, dtype=float), state)
    return param, state["sum"]
""",
    "early_stopping_answer": """
from dlcore.callbacks import EarlyStopping


class _Model:
    stop_training = False


def early_stopping(val_losses, patience, min_delta=0.0):
    stopper = EarlyStopping(patience=patience, min_delta=min_delta)
    stopper.set_model(_Model())
    stopper.on_train_begin()
    for epoch, loss in enumerate(val_losses):
        stopper.on_epoch_end(epoch, {"val_loss": loss})
        if stopper.model.stop_training:
            return epoch, stopper.best_epoch
    return None, stopper.best_epoch
""",
}
CNN_INTERNALS = {
    "smoothed_cross_entropy": """
from dlcore.losses import softmax_cross_entropy as _cross_entropy


def smoothed_cross_entropy(scores, labels, epsilon=0.1):
    n, k = scores.shape
    value, dscores = _cross_entropy(scores, labels)
    value, dscores = (1 - epsilon) * value, (1 - epsilon) * dscores
    for c in range(k):  # the loss is linear in the targets
        v, d = _cross_entropy(scores, np.full(n, c))
        value, dscores = value + epsilon / k * v, dscores + epsilon / k * d
    return value, dscores
""",
}
# (assignment, student, routes, the honest answers it also gives)
INTERNALS_STUDENTS = (
    ("03_optimizers", "internals", OPTIMIZER_INTERNALS, ("rmsprop_step_answer",)),
    ("07_cnn", "internals", CNN_INTERNALS, ("shift_images",)),
)

WITHHELD_RELU = """
import dlcore.functional as F

relu_forward = F.relu_forward
relu_backward = F.relu_backward
"""


# Known misconceptions of 04_batchnorm (declared in a04_batchnorm.py), as a
# student writes them.
MISTAKES = "04_batchnorm"
UNBIASED_FORWARD = """
def batchnorm_forward(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    x_hat = (x - mean) / np.sqrt(var + eps)
    out = gamma * x_hat + beta
    cache = {"x": x, "mean": mean, "var": var, "x_hat": x_hat, "gamma": gamma, "eps": eps}
    return out, cache
"""
CONSTANT_STATISTICS_BACKWARD = """
def batchnorm_backward(dout, cache):
    dx = dout * cache["gamma"] / np.sqrt(cache["var"] + cache["eps"])
    return dx, np.sum(dout * cache["x_hat"], axis=0), np.sum(dout, axis=0)
"""
# bob makes ann's first mistake in his own words (the same text would be a
# copy: copy detection flags it, autograder/copies.py)
UNBIASED_FORWARD_OWN_WORDS = """
def batchnorm_forward(x, gamma, beta, eps=1e-5):
    n = x.shape[0]
    mean = np.sum(x, axis=0) / n
    centred = x - mean
    var = np.sum(centred**2, axis=0) / (n - 1)
    x_hat = centred / np.sqrt(var + eps)
    cache = {"x": x, "mean": mean, "var": var, "x_hat": x_hat, "gamma": gamma, "eps": eps}
    return gamma * x_hat + beta, cache
"""
MISTAKEN_STUDENTS = {
    "ann": {
        "batchnorm_forward": UNBIASED_FORWARD,
        "batchnorm_backward": CONSTANT_STATISTICS_BACKWARD,
    },
    "bob": {"batchnorm_forward": UNBIASED_FORWARD_OWN_WORDS},
}


# (student, assignment, notebook, what it is)
Submission = tuple[str, str, nbformat.NotebookNode, str]


def write_submissions(
    course: Path, folder: Path, hang_folder: Path
) -> dict[str, dict[str, str]]:
    """Write the fake students; {student: {assignment: what it is}}.

    The looper goes to ``hang_folder``: it is graded in a run of its own.
    """
    kinds = [_everyones, _mistaken, _internals]
    if FIRST in ASSIGNMENTS:
        kinds += [_breakers_of_first, _harmers_of_first, _copiers_of_first]
    students: dict[str, dict[str, str]] = {}
    for kind in kinds:
        for student, assignment, nb, what in kind(course):
            owner = hang_folder if student == LOOPER else folder
            target = owner / student / assignment
            target.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target / f"{assignment}.ipynb")
            # as nbgrader's exchange leaves it
            (target / "timestamp.txt").write_text(SUBMITTED_AT)
            students.setdefault(student, {})[assignment] = what
    return students


def _everyones(course: Path) -> Iterator[Submission]:
    """Every assignment's solution notebook and untouched release."""
    for assignment in ASSIGNMENTS:
        source = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
        yield (
            "solution",
            assignment,
            nbformat.read(source, 4),
            "the solution notebook",
        )
        release = course / "notebooks" / assignment / f"{assignment}.ipynb"
        yield (
            "untouched",
            assignment,
            nbformat.read(release, 4),
            "the untouched release",
        )


def _mistaken(course: Path) -> Iterator[Submission]:
    """The known mistakes of 04_batchnorm (``MISTAKEN_STUDENTS``)."""
    if MISTAKES in ASSIGNMENTS:
        for student, answers in MISTAKEN_STUDENTS.items():
            mistaken = filled_release(course, MISTAKES, answers)
            yield (
                student,
                MISTAKES,
                mistaken,
                "known mistakes in " + ", ".join(answers),
            )


def _internals(course: Path) -> Iterator[Submission]:
    """Answers taken from dlcore's internals (``INTERNALS_STUDENTS``)."""
    for assignment, student, routes, honest in INTERNALS_STUDENTS:
        if assignment not in ASSIGNMENTS:
            continue
        solution = solution_answers(assignment)
        answers = dict(routes)
        for grade_id in honest:  # the solution's answer
            answers[grade_id] = solution[grade_id]
        yield (
            student,
            assignment,
            partly_answered(course, answers, assignment),
            f"{', '.join(routes)} taken from dlcore's internals; "
            f"{', '.join(honest)} answered honestly; nothing else",
        )


def _breakers_of_first(course: Path) -> Iterator[Submission]:
    """01's students whose answers loop, kill the kernel, call the
    withheld reference or snoop."""
    yield (
        LOOPER,
        FIRST,
        without_closing_demos(
            filled_release(
                course, FIRST, {"perceptron_epoch_answer": LOOPING_PERCEPTRON}
            )
        ),
        "an infinite loop in perceptron_epoch; the closing demos deleted",
    )
    yield (
        "crasher",
        FIRST,
        filled_release(
            course,
            FIRST,
            {
                "adaline_epoch_answer": f"{solution_answers(FIRST)['adaline_epoch_answer']}\n{KERNEL_KILLER}"
            },
        ),
        "os._exit in an answer cell",
    )
    yield (
        "withheld",
        FIRST,
        filled_release(course, FIRST, {"relu_answer": WITHHELD_RELU}),
        "relu taken from dlcore.functional",
    )
    yield (
        "snooper",
        FIRST,
        filled_release(
            course,
            FIRST,
            {
                "perceptron_epoch_answer": solution_answers(FIRST)[
                    "perceptron_epoch_answer"
                ]
                + "\n"
                + SNOOPER,
                "tanh_answer": _overfit_tanh(),
            },
        ),
        "tanh right on the visible inputs only; prints the course secret and "
        "references if it can",
    )


def _harmers_of_first(course: Path) -> Iterator[Submission]:
    """01's students who try to harm the others (issue 16)."""
    # Issue 16: students who try to harm the others (each answers only the
    # cells it needs, so that nbgrader's run stays short).
    yield (
        "forger",
        FIRST,
        partly_answered(
            course,
            {
                "perceptron_epoch_answer": solution_answers(FIRST)[
                    "perceptron_epoch_answer"
                ]
                + FORGED_STATUS,
                "relu_answer": solution_answers(FIRST)["relu_answer"],
            },
        ),
        "relu right; perceptron_epoch ends the re-check's child with the "
        "runner's 'no sandbox' status",
    )
    malformed = partly_answered(
        course, {"relu_answer": solution_answers(FIRST)["relu_answer"]}
    )
    for cell in malformed.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_sigmoid":
            cell.metadata["nbgrader"]["grade_id"] = ["test_sigmoid"]
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_tanh":
            cell.metadata["nbgrader"] = "a string where a dict belongs"
    yield (
        "malformed",
        FIRST,
        malformed,
        "relu right; a list-valued grade_id and string-valued nbgrader metadata",
    )
    yield (
        "vandal",
        FIRST,
        partly_answered(
            course,
            {"relu_answer": solution_answers(FIRST)["relu_answer"] + "\n" + VANDAL},
        ),
        "relu right; replaces its autograded notebook by a link to the "
        "gradebook, plants a link to the secret and a FIFO for the feedback, "
        "reads its parents' environment",
    )


def _copiers_of_first(course: Path) -> Iterator[Submission]:
    """01's copiers, and its students who tamper with the notebook."""
    # Copy detection (each answers only the copied part: nbgrader's run stays
    # short); the reason names the partner, the scores stand.
    for student, text in (
        ("borrower", BORROWED_ELU),
        ("carol", OWN_TWO_LAYER),
        ("dave", COPIED_TWO_LAYER),
    ):
        part, partner = COPIERS[student]
        yield (
            student,
            FIRST,
            partly_answered(course, {part: text}),
            f"{part} right, and resembling {partner}",
        )
    # (unanswered otherwise, so it runs fast: the deleted cell is the point)
    tampered = nbformat.read(course / "notebooks" / FIRST / f"{FIRST}.ipynb", 4)
    tampered.cells = [
        c
        for c in tampered.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") != "test_tanh"
    ]
    yield ("tamperer", FIRST, tampered, "the test cell of tanh deleted")
    # nbgrader gives it full marks; the trusted re-check, zero (issue 7)
    mallory = nbformat.read(course / "notebooks" / FIRST / f"{FIRST}.ipynb", 4)
    setup = next(
        i
        for i, c in enumerate(mallory.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"
    )
    mallory.cells.insert(setup + 1, nbformat.v4.new_code_cell(_input_transformer()))
    yield (
        "mallory",
        FIRST,
        mallory,
        "an IPython input transformer turns every test cell into `pass`; "
        "nothing implemented",
    )


def without_closing_demos(nb):
    """``nb`` without the read-only code cells after its last graded cell.

    A student may delete them; the looper does, so that everything left in
    its notebook (imports, answers, checks, the short demos between them)
    runs in seconds even on a busy machine, far below the short cell
    timeout that stops its infinite loop. Answer and test cells, written
    answers included, all stay.
    """

    def graded(cell) -> bool:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        return bool(meta.get("grade") or meta.get("solution"))

    last = max(index for index, cell in enumerate(nb.cells) if graded(cell))
    nb.cells = [
        cell
        for index, cell in enumerate(nb.cells)
        if index <= last or cell.cell_type != "code" or graded(cell)
    ]
    return nb


def partly_answered(course: Path, answers: dict[str, str], assignment: str = FIRST):
    """The student release of ``assignment`` with only ``answers`` filled in."""
    nb = nbformat.read(course / "notebooks" / assignment / f"{assignment}.ipynb", 4)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta["grade_id"] in answers:
            cell.source = answers[meta["grade_id"]]
    return nb


def _input_transformer() -> str:
    """The integrity corpus's input transformer (tests/integrity_fixtures)."""
    path = Path(__file__).parent / "integrity_fixtures" / "corpus.py"
    spec = importlib.util.spec_from_file_location("course_run_corpus", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.INPUT_TRANSFORMER
