import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from triggerbench.errors import RunnerError, UserInputError
from triggerbench.runners.base import RunnerOptions
from triggerbench.runners.keras import KerasRunner


def prepared(artifact, **kw) -> KerasRunner:
    runner = KerasRunner()
    runner.prepare(artifact, RunnerOptions(**kw))
    return runner


def test_other_batch_size_compiles_at_stage_without_xla(standin_artifact, keras_reference, batches):
    with prepared(standin_artifact, batch_size=7, extra={"jit_compile": False}) as runner:
        out_7 = runner.infer(runner.stage(batches(7, 33))).copy()
        x3 = batches(3, 35)
        staged_3 = runner.stage(x3)  # another batch size is compiled here, not on the first infer
        out_3 = runner.infer(staged_3).copy()
        assert runner.describe().settings["jit_compile"] is False
    np.testing.assert_allclose(out_7, keras_reference(batches(7, 33)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out_3, keras_reference(x3), rtol=1e-5, atol=1e-5)


def test_describe(standin_artifact, as_record):
    with prepared(standin_artifact) as runner:
        d = runner.describe()
    assert (d.backend, d.device, d.precision) == ("tensorflow", "CPU", "f32")
    assert d.backend_version.startswith("keras 3") and "/ tensorflow " in d.backend_version
    assert d.settings["jit_compile"] is True and d.settings["call"].startswith("tf.function")
    as_record(d)


def test_threads_after_tf_started_are_recorded_not_applied(standin_artifact, keras_reference, as_record):
    import tensorflow as tf

    tf.config.list_logical_devices()  # starts TF's runtime (the reference model did already)
    current = tf.config.threading.get_intra_op_parallelism_threads()
    with prepared(standin_artifact, threads=current + 1) as runner:
        d = runner.describe()
    assert d.threads == (current or None)  # what TF uses, not what was asked for
    assert f"threads={current + 1} not applied" in d.settings["threads_not_set"]
    as_record(d)


def test_threads_in_a_fresh_process_are_applied(standin_artifact):
    # TF fixes its thread pools when its runtime starts, so this needs a fresh interpreter.
    code = (
        "import json, pickle, sys\n"
        "from triggerbench.runners.base import RunnerOptions\n"
        "from triggerbench.runners.keras import KerasRunner\n"
        "r = KerasRunner()\n"
        "r.prepare(pickle.loads(bytes.fromhex(sys.argv[1])), RunnerOptions(threads=1))\n"
        "d = r.describe()\n"
        "print(json.dumps({'threads': d.threads, 'settings': d.settings}))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", code, pickle.dumps(standin_artifact).hex()],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    d = json.loads(proc.stdout.strip().splitlines()[-1])
    assert d["threads"] == 1 and d["settings"]["intra_op"] == 1 and d["settings"]["inter_op"] == 1
    assert "threads_not_set" not in d["settings"]


@pytest.mark.parametrize("precision", ["bf16", "f16", "int8"])
def test_unsupported_precision_raises(standin_artifact, precision):
    with pytest.raises(RunnerError, match="keras runner supports precision f32 only"):
        prepared(standin_artifact, precision=precision)


def test_vendor_errors_become_runner_errors(standin_artifact, tmp_path):
    from triggerbench.models.artifact import ModelArtifact

    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a keras file")
    artifact = ModelArtifact(
        name="bad",
        source_format="keras",
        paths={"keras": bad},
        input_shape=(9, 16, 1),
        output_shape=(2,),
        parameter_count=None,
    )
    with pytest.raises(RunnerError, match="cannot load bad.keras") as info:
        prepared(artifact)
    assert info.value.__cause__ is not None and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("given", "xla"),
    [
        ("False", False),
        ("false", False),
        ("0", False),
        (0, False),
        (False, False),
        ("True", True),
        ("1", True),
        (1, True),
    ],
)
def test_jit_compile_is_a_checked_flag(given, xla):
    # The CLI passes -O jit_compile=False as the text "False", which bool() took as true.
    assert KerasRunner.parse_options({"jit_compile": given}).jit_compile is xla


def test_jit_compile_false_as_text_turns_xla_off(standin_artifact):
    with prepared(standin_artifact, extra={"jit_compile": "False"}) as runner:
        assert runner.describe().settings["jit_compile"] is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"jit_compile": "maybe"}, "keras runner: option jit_compile='maybe': use true or false"),
        ({"xla": True}, "keras runner: unknown option(s) xla; known options: jit_compile, backend"),
    ],
)
def test_bad_options_are_refused_in_one_line(standin_artifact, extra, message):
    with pytest.raises(UserInputError) as err:
        prepared(standin_artifact, extra=extra)
    assert str(err.value) == message
