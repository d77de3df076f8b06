import pytest

from triggerbench.errors import UserInputError
from triggerbench.plan import load_plan


def test_plan_reads_run_and_measure(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(
        '[run]\nworkload = "standin-cnn"\nrunners = ["keras"]\nbatch_sizes = [1, 8]\n'
        "[measure]\nmin_duration_s = 2.5\n"
    )
    plan = load_plan(path)
    assert plan.run.runners == ["keras"] and plan.run.batch_sizes == [1, 8]
    assert plan.measure.min_duration_s == 2.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[measure]\nmin_duraton_s = 2\n", "unknown key 'measure.min_duraton_s'; known keys here: warmup_s"),
        ("[run]\nrunner = ['keras']\n", "unknown key 'run.runner'"),
        ("[runs]\n", "unknown key 'runs'"),
        ("[measure]\nmin_duration_s = -1\n", "measure.min_duration_s: Input should be greater than 0"),
        ("[run]\nscenarios = ['singlestream']\n", "run.scenarios.0"),
        ("[run\n", "not valid TOML"),
        ("[run]\nthreads = -1\n", "run.threads: Input should be greater than or equal to 1"),
        ("[run]\nbatch_sizes = [4, 0]\n", "run.batch_sizes.1: Input should be greater than or equal to 1"),
        ("[run]\ntimeout_s = inf\n", "run.timeout_s: Input should be a finite number"),
        ("[measure]\nwarmup_s = nan\n", "measure.warmup_s: Input should be a finite number"),
    ],
)
def test_plan_mistakes_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "plan.toml"
    path.write_text(text)
    with pytest.raises(UserInputError, match=message.replace("[", r"\[")):
        load_plan(path)


def test_missing_plan(tmp_path):
    with pytest.raises(UserInputError, match="plan file not found"):
        load_plan(tmp_path / "nope.toml")


def test_a_plan_names_several_workloads_each_once_in_order(tmp_path):
    path = tmp_path / "plan.toml"
    path.write_text(
        '[run]\nworkload = "llp-vgg"\nworkloads = ["muon-l0-teacher", "llp-vgg", "standin-cnn"]\n'
    )
    assert load_plan(path).run.workload_names() == ["llp-vgg", "muon-l0-teacher", "standin-cnn"]
