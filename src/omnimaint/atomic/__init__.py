"""Output folders: recognised by their manifest, written whole or not at all, never replacing what
omnimaint did not write.

Every command that writes a folder names the kind of artefact it writes (:mod:`.kinds`): a dataset
(``dataset.json``), a model bundle (``bundle.json``), or a folder carrying the marker ``omnimaint.json``
(runs, evaluations, benchmark results, linear probes, experiments, the demo). :func:`check_target`, called
before any work, refuses a target that holds anything but nothing, an empty folder or an artefact of the
same kind, and replaces that artefact only with ``overwrite`` (:mod:`.targets`).

Folders that appear at once (datasets, bundles, evaluations, probes) are built in a hidden sibling and
renamed into place (:func:`staged_folder`, or :func:`new_staging` then :func:`swap_into_place`); folders
that grow while a command runs (runs, benchmark results, experiments, the demo) are claimed in place
(:func:`claim_folder`). The hidden siblings carry their writer's host and pid, so that the next command on
the same target removes those of killed writers and puts back a folder that an interrupted replacement had
set aside (:mod:`.staging`).
"""

from omnimaint.atomic.kinds import (
    ABLATION,
    BENCH,
    BENCH_TITLE,
    BUNDLE,
    DATASET,
    DEMO,
    EVALUATION,
    KINDS,
    LABEL_EFFICIENCY,
    MARKER_FILE,
    PRETRAINING_RUN,
    PROBE,
    TRAINING_RUN,
    Kind,
    describe,
    recognise,
)
from omnimaint.atomic.targets import (
    OutputError,
    check_target,
    claim_folder,
    discard,
    discard_staging,
    new_staging,
    staged_folder,
    swap_into_place,
)

__all__ = [
    "ABLATION",
    "BENCH",
    "BENCH_TITLE",
    "BUNDLE",
    "DATASET",
    "DEMO",
    "EVALUATION",
    "KINDS",
    "LABEL_EFFICIENCY",
    "MARKER_FILE",
    "PRETRAINING_RUN",
    "PROBE",
    "TRAINING_RUN",
    "Kind",
    "OutputError",
    "check_target",
    "claim_folder",
    "describe",
    "discard",
    "discard_staging",
    "new_staging",
    "recognise",
    "staged_folder",
    "swap_into_place",
]
