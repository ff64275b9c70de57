"""hydra/launcher=slurm: the al_bench launcher waits for every job when one is lost. The parent
launcher's submission is stood in for (no cluster here); .ci/slurm runs it on a real one."""

import pytest
import submitit
from hydra.core.utils import JobReturn, JobStatus

from hydra_plugins.al_bench_sweeper.slurm import AlBenchSlurmLauncher
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher
from support import compose_config


class _Job:
    def __init__(self, result=None, error=None):
        self.result, self.error, self.asked = result, error, 0

    def results(self):
        self.asked += 1
        if self.error is not None:
            raise self.error
        return [self.result]


def test_the_preset_uses_the_waiting_launcher():
    cfg = compose_config("hydra/launcher=slurm")
    assert cfg.hydra.launcher._target_ == "hydra_plugins.al_bench_sweeper.slurm.AlBenchSlurmLauncher"
    assert cfg.hydra.launcher.cpus_per_task == 2 and cfg.hydra.launcher.name == "al_bench"


def test_a_lost_job_does_not_stop_the_wait_for_the_others(monkeypatch):
    ok = JobReturn(overrides=["seed=1"], status=JobStatus.COMPLETED)
    ok.return_value = "ok"
    lost = submitit.core.utils.UncompletedJobError("Job 7_0 (task: 0) with path /x/7_0_0_result.pkl\n"
                                                   "has not produced any output (state: CANCELLED by 0)")
    jobs = [_Job(error=lost), _Job(result=ok)]
    original = submitit.AutoExecutor.map_array

    def parent_launch(self, job_overrides, initial_job_idx):
        submitted = submitit.AutoExecutor.map_array(object(), None)  # what the parent submits
        return [j.results()[0] for j in submitted]  # raises at the first job without a result

    def stand_in(executor, *a, **k):
        return jobs

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", stand_in)
    monkeypatch.setattr(SlurmLauncher, "launch", parent_launch)
    launcher = AlBenchSlurmLauncher.__new__(AlBenchSlurmLauncher)
    got = launcher.launch([["seed=0"], ["seed=1"]], 0)
    assert [r.status for r in got] == [JobStatus.FAILED, JobStatus.COMPLETED]
    assert got[0]._return_value is lost and got[0].overrides == ["seed=0"]
    assert got[1] is ok and jobs[1].asked == 1  # the second job was waited for
    assert submitit.AutoExecutor.map_array is stand_in  # the launcher put back what it found
    monkeypatch.undo()
    assert submitit.AutoExecutor.map_array is original


def test_without_a_submission_the_error_is_the_parents(monkeypatch):
    def parent_launch(self, job_overrides, initial_job_idx):
        raise RuntimeError("sbatch: error: invalid partition")

    monkeypatch.setattr(SlurmLauncher, "launch", parent_launch)
    with pytest.raises(RuntimeError, match="invalid partition"):
        AlBenchSlurmLauncher.__new__(AlBenchSlurmLauncher).launch([["seed=0"]], 0)
